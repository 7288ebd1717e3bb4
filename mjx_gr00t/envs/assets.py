"""Where our MJCF files live: the `envs_xml` package's data, found through importlib.resources (so
it works from a checkout, an editable install and a wheel alike).

    xml_path("so101_paper_card.xml")   # -> an absolute path to the file
"""

import importlib.resources

XML_PACKAGE: str = "envs_xml"


def xml_dir() -> str:
    """The directory that holds the scenes' XML files."""
    return str(importlib.resources.files(XML_PACKAGE))


def xml_path(name: str) -> str:
    """The path of scene file `name` in envs_xml."""
    return str(importlib.resources.files(XML_PACKAGE).joinpath(name))
