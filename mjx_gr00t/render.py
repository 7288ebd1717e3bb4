"""Batched camera images of many envs, from their joint positions, whichever engine stepped them.

    renderer = BatchRenderer(env.mj_model, cameras=("front", "wrist"))
    images = renderer.render(qpos)        # qpos (B, nq) -> {"front": uint8 (B, 224, 224, 3), ...}
    renderer.close()

Rendering needs kinematics only: each env's `qpos` is posed on a render-only copy of the model
(contacts and constraints disabled, offscreen buffer sized to the image) and drawn from the named
cameras. Per-env randomised model fields (e.g. a DR'd object size) are not drawn; the default
model's are. Backends (`backend=`):
- `osmesa`, `egl`, `glfw`: MuJoCo's own OpenGL renderer, one env after another in one GL context.
  OSMesa is software GL for CPU-only machines (Debian `libosmesa6`; `setup.sh` installs it); EGL
  needs a GPU driver. The context class is picked here, so the choice holds even when `mujoco`
  was imported before this module.
- `warp`: MJX's batch renderer (`mujoco.mjx.render`, MuJoCo Warp), every env in one call on the
  device. Needs `warp-lang` (`pip install warp-lang==1.19.0`); a CUDA GPU makes it fast (it also
  runs, slowly, on a CPU).
- `auto`: `warp` when Warp is installed and JAX sees a CUDA GPU; else the GL backend that
  `gl_backend()` names: `$MUJOCO_GL` when the user set it, else `egl` on a machine with an NVIDIA
  device, else `osmesa`.
"""

import os

GL_BACKENDS: tuple[str, ...] = ("osmesa", "egl", "glfw")
BACKENDS: tuple[str, ...] = ("auto", *GL_BACKENDS, "warp")


def gl_backend() -> str:
    """The OpenGL backend: $MUJOCO_GL if set to one of GL_BACKENDS, else egl with an NVIDIA device, else osmesa."""
    chosen = os.environ.get("MUJOCO_GL", "").strip().lower()
    if chosen in GL_BACKENDS:
        return chosen
    return "egl" if os.path.exists("/dev/nvidiactl") else "osmesa"


# Before mujoco loads: mujoco reads MUJOCO_GL once, at import, for its own `mujoco.Renderer`.
os.environ.setdefault("MUJOCO_GL", gl_backend())

from collections.abc import Sequence  # noqa: E402
import atexit  # noqa: E402
import copy  # noqa: E402
import importlib.util  # noqa: E402
import weakref  # noqa: E402
from typing import Any, Protocol  # noqa: E402

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from mjx_gr00t.perception.image_dr import NOMINAL, ImageJitter, check_draws  # noqa: E402

_FIX_HINT = ("install OSMesa (Debian: `apt-get install libosmesa6`, which `bash setup.sh` does when "
             "run as root) and set MUJOCO_GL=osmesa, or on an NVIDIA GPU use MUJOCO_GL=egl or backend='warp'")


class RenderBackendError(RuntimeError):
    """No usable rendering backend; the message says which failed, why, and how to fix it."""


def camera_names(model: mujoco.MjModel) -> tuple[str, ...]:
    """The names of the model's cameras, in id order."""
    return tuple(model.camera(i).name for i in range(model.ncam))


class SceneEnv(Protocol):
    """Any env layer with a scene model: `EpisodeEnv`, `ResidualTask`, a scene task."""

    @property
    def mj_model(self) -> mujoco.MjModel:
        """The scene's compiled model."""
        ...


class BatchRenderer:
    """Images of B envs from `cameras`, uint8 (B, height, width, 3) each. Not thread-safe: use it
    from one thread at a time."""

    def __init__(self, model: mujoco.MjModel, cameras: Sequence[str] = ("front", "wrist"),
                 height: int = 224, width: int = 224, backend: str = "auto", antialias: bool = True) -> None:
        """model: the scene's MjModel (left untouched). backend: one of BACKENDS (see the module doc).
        antialias: False draws without the model's multisampling (OpenGL): on this 2-core CPU a
        320 x 240 camera then takes ~12.8 ms instead of ~21.8 (OSMesa), and the pixels differ only
        along edges (mean 0.8 of 255). Raises ValueError for an unknown camera or backend or a bad size, RenderBackendError when
        the backend cannot start here."""
        self._impl: Any = None
        if isinstance(cameras, str):
            cameras = (cameras,)
        self.cameras = tuple(cameras)
        have = camera_names(model)
        missing = [c for c in self.cameras if c not in have]
        if missing or not self.cameras:
            raise ValueError(f"scene has no camera {missing or '(none asked)'}; its cameras are {list(have)}")
        if height < 1 or width < 1:
            raise ValueError(f"image size must be >= 1 pixel, got height={height}, width={width}")
        if backend not in BACKENDS:
            raise ValueError(f"unknown render backend {backend!r}; choose one of {list(BACKENDS)}")
        self.height, self.width, self.nq = height, width, model.nq
        self.backend = _resolve(backend)
        render_model = _render_model(model, height, width)
        if not antialias:
            render_model.vis.quality.offsamples = 0
        cam_ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, c) for c in self.cameras]
        if self.backend == "warp":
            self._impl = _WarpRenderer(render_model, self.cameras, height, width)
        else:
            self._impl = _GLRenderer(render_model, cam_ids, height, width, self.backend)

    def render(self, qpos: np.ndarray, image_dr: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """qpos (B, nq) float -> {camera name: uint8 (B, height, width, 3)}.

        image_dr: None, or (B, 8) per-env camera pose, fovy and light draws
        (`mjx_gr00t.perception.image_dr`), applied to every rendered camera; OpenGL backends only."""
        qpos = np.asarray(qpos, dtype=np.float64)
        if qpos.ndim != 2 or qpos.shape[1] != self.nq:
            raise ValueError(f"qpos must be (B, nq={self.nq}), got shape {qpos.shape}")
        if self._impl is None:
            raise RuntimeError("render() after close()")
        if image_dr is not None:
            image_dr = check_draws(image_dr, len(qpos))
            if self.backend == "warp":
                if not np.allclose(image_dr, NOMINAL):
                    raise ValueError("image DR (camera pose, fovy, light jitter) needs an OpenGL render backend "
                                     "(osmesa or egl); the warp renderer draws every world with one camera")
                image_dr = None
        if len(qpos) == 0:
            return {c: np.zeros((0, self.height, self.width, 3), np.uint8) for c in self.cameras}
        images = self._impl.render(qpos) if image_dr is None else self._impl.render(qpos, image_dr)
        return dict(zip(self.cameras, images))

    def close(self) -> None:
        """Frees the GL context or the Warp buffers; safe to call twice."""
        if self._impl is not None:
            self._impl.close()
            self._impl = None

    def __enter__(self) -> "BatchRenderer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001  (at interpreter exit GL libraries may be gone already)
            pass


def renderer_for_env(env: SceneEnv, cameras: Sequence[str] | None = None, height: int = 224, width: int = 224,
                     backend: str = "auto") -> BatchRenderer:
    """A BatchRenderer of `env`'s scene. cameras None: those of ("front", "wrist") that the scene has."""
    model = env.mj_model
    if cameras is None:
        cameras = tuple(c for c in ("front", "wrist") if c in camera_names(model)) or camera_names(model)[:1]
    return BatchRenderer(model, cameras, height, width, backend)


def warp_usable() -> bool:
    """Whether `auto` picks Warp: warp-lang installed and JAX sees a CUDA GPU."""
    if importlib.util.find_spec("warp") is None:
        return False
    import jax

    return any(d.platform == "gpu" for d in jax.devices())


def _resolve(backend: str) -> str:
    if backend != "auto":
        return backend
    return "warp" if warp_usable() else gl_backend()


def _render_model(model: mujoco.MjModel, height: int, width: int) -> mujoco.MjModel:
    """A private copy for posing only: no contacts or constraints, an offscreen buffer >= the image."""
    m = copy.deepcopy(model)
    m.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_CONSTRAINT | mujoco.mjtDisableBit.mjDSBL_CONTACT)
    m.vis.global_.offwidth = max(m.vis.global_.offwidth, width)
    m.vis.global_.offheight = max(m.vis.global_.offheight, height)
    return m


def _gl_context_class(name: str) -> type:
    """mujoco's GLContext class for backend `name`; RenderBackendError saying why it cannot load."""
    try:
        if name == "osmesa":
            from mujoco.osmesa import GLContext
        elif name == "egl":
            from mujoco.egl import GLContext
        else:
            from mujoco.glfw import GLContext
    except Exception as err:  # noqa: BLE001  (a missing library shows as ImportError, OSError, AttributeError...)
        raise RenderBackendError(
            f"OpenGL backend {name!r} cannot load ({type(err).__name__}: {err}); {_FIX_HINT}") from err
    return GLContext


_LIVE_GL: "weakref.WeakSet[_GLRenderer]" = weakref.WeakSet()


@atexit.register
def _close_live_gl() -> None:
    """Frees every open GL context before interpreter teardown, when mujoco's GLContext.__del__
    would otherwise run after its own module's globals are gone (and print an ignored error)."""
    for renderer in list(_LIVE_GL):
        renderer.close()


class _GLRenderer:
    """MuJoCo's OpenGL renderer in one offscreen context; poses and draws the envs one by one."""

    def __init__(self, model: mujoco.MjModel, cam_ids: list[int], height: int, width: int, gl: str) -> None:
        self._ctx = None
        context_class = _gl_context_class(gl)
        try:
            self._ctx = context_class(width, height)
            self._ctx.make_current()
            self._mjr = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150)
        except Exception as err:  # noqa: BLE001  (GL fails in many ways; all mean "no context here")
            if self._ctx is not None:
                self._ctx.free()
                self._ctx = None
            raise RenderBackendError(
                f"OpenGL backend {gl!r} could not create a context ({type(err).__name__}: {err}); {_FIX_HINT}"
            ) from err
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._mjr)
        self._jitter = ImageJitter(model)  # a private copy: image DR changes its cameras and lights
        self._model, self._cam_ids = self._jitter.model, cam_ids
        self._data = mujoco.MjData(self._model)
        self._scene = mujoco.MjvScene(model, maxgeom=10_000)
        self._option, self._camera = mujoco.MjvOption(), mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._rect = mujoco.MjrRect(0, 0, width, height)
        self._frame = np.empty((height, width, 3), np.uint8)
        _LIVE_GL.add(self)

    def render(self, qpos: np.ndarray, image_dr: np.ndarray | None = None) -> list[np.ndarray]:
        """qpos (B, nq), image_dr None or (B, 8) -> one uint8 (B, H, W, 3) per camera."""
        self._ctx.make_current()  # the context may have been left for another one since
        h, w = self._frame.shape[:2]
        out = [np.empty((len(qpos), h, w, 3), np.uint8) for _ in self._cam_ids]
        with self._jitter:
            for b, q in enumerate(qpos):
                if image_dr is not None:
                    self._jitter.apply(image_dr[b], self._cam_ids)
                self._draw(b, q, out)
        return out

    def _draw(self, b: int, q: np.ndarray, out: list[np.ndarray]) -> None:
        """Poses the scene at q (nq,) and draws each camera into row b of `out`."""
        self._data.qpos[:] = q
        mujoco.mj_forward(self._model, self._data)
        for images, cam_id in zip(out, self._cam_ids):
            self._camera.fixedcamid = cam_id
            mujoco.mjv_updateScene(self._model, self._data, self._option, None, self._camera,
                                   mujoco.mjtCatBit.mjCAT_ALL, self._scene)
            mujoco.mjr_render(self._rect, self._scene, self._mjr)
            mujoco.mjr_readPixels(self._frame, None, self._rect, self._mjr)
            images[b] = self._frame[::-1]  # GL rows run bottom-up

    def close(self) -> None:
        if self._ctx is None:
            return
        self._ctx.make_current()  # mjr_freeContext frees whatever context is current
        self._mjr.free()
        self._ctx.free()
        self._ctx = None


class _WarpRenderer:
    """mujoco.mjx.render (MuJoCo Warp): the whole batch in one call on the device.

    A render context holds a fixed number of worlds, so batches are padded up to a power of two:
    batches of varying size (envs planning at different steps) compile O(log B) times, not B."""

    def __init__(self, model: mujoco.MjModel, cameras: tuple[str, ...], height: int, width: int) -> None:
        if importlib.util.find_spec("warp") is None:
            raise RenderBackendError(
                "render backend 'warp' needs NVIDIA Warp: `pip install warp-lang==1.19.0` (fast on an NVIDIA "
                "GPU), or use backend='osmesa'/'egl'")
        from mujoco import mjx

        self._mjx, self._model, self._cameras, self._size = mjx, model, cameras, (width, height)
        try:
            self._mx = mjx.put_model(model, impl="warp")
        except Exception as err:  # noqa: BLE001  (Warp fails in many ways on unsupported hosts)
            raise RenderBackendError(f"render backend 'warp' could not start ({type(err).__name__}: {err})") from err
        self._worlds = 0
        self._context: Any = None
        self._packed_rgb: Any = None

    def _ensure_worlds(self, batch: int) -> None:
        """A render context and a jitted qpos (W, nq) -> packed RGB (W, pixels) for W >= batch worlds."""
        if batch <= self._worlds:
            return
        import jax

        mjx, m, mx = self._mjx, self._model, self._mx
        worlds = 1 << (batch - 1).bit_length()
        context = mjx.create_render_context(mjm=m, nworld=worlds, cam_res=self._size, render_rgb=True,
                                            render_depth=False, cam_active=list(self._cameras))
        handle = context.pytree()

        def packed_rgb(qpos: jax.Array) -> jax.Array:
            data = jax.vmap(lambda q: mjx.make_data(m, impl="warp").replace(qpos=q))(qpos)
            data = jax.vmap(mjx.forward, in_axes=(None, 0))(mx, data)
            data = mjx.refit_bvh(mx, data, handle)
            rgb, _, _ = mjx.render(mx, data, handle)
            return rgb

        self._worlds, self._context, self._packed_rgb = worlds, context, jax.jit(packed_rgb)

    def render(self, qpos: np.ndarray) -> list[np.ndarray]:
        """qpos (B, nq) -> one uint8 (B, H, W, 3) per camera."""
        import jax.numpy as jnp

        batch = len(qpos)
        self._ensure_worlds(batch)
        padded = np.concatenate([qpos, np.repeat(qpos[-1:], self._worlds - batch, axis=0)])
        packed = self._packed_rgb(jnp.asarray(padded, jnp.float32))
        handle = self._context.pytree()
        return [np.asarray(jnp.round(self._mjx.get_rgb(handle, i, packed[:batch]) * 255).astype(jnp.uint8))
                for i in range(len(self._cameras))]

    def close(self) -> None:
        self._worlds, self._context, self._packed_rgb = 0, None, None
