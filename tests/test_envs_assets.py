"""Scene XML files come from the envs_xml package's data."""

import os

from mjx_gr00t.envs import assets, registry


def test_every_scene_xml_is_found_through_the_package():
    assert os.path.isdir(assets.xml_dir())
    for scene in registry.scenes():
        path = registry.default_config(scene).xml_path
        assert os.path.isfile(path) and os.path.dirname(path) == assets.xml_dir(), scene
    assert assets.xml_path("so101.xml").endswith(os.path.join("envs_xml", "so101.xml"))
