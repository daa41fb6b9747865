"""jackfield's pytest plugin: the ``fake_llm_server`` and ``jackfield_registry`` fixtures.

pytest loads this module through the ``pytest11`` entry point in every run of every
project where jackfield is installed, so it stays cheap and inert: it defines two
fixtures and nothing else (no hooks, options or markers), and imports neither aiohttp
nor the rest of jackfield until a fixture runs. A project's own fixture of the same name
wins over these, as for any plugin fixture.

``fake_llm_server``
    A started :class:`~jackfield.testing.FakeLLMServer` on loopback, stopped after the
    test. An async fixture: it needs pytest-asyncio (auto or strict mode) and runs in
    the event loop of pytest-asyncio's fixture loop scope (``function`` unless
    ``asyncio_default_fixture_loop_scope`` says otherwise), which must be the test's.

``jackfield_registry``
    A fresh :class:`jackfield.Registry` with the built-in and installed entry points
    loaded, installed as the process-wide registry for the test (so
    ``jackfield.create_provider`` in the code under test uses it) and restored after;
    the instances it cached are closed. The ``JACKFIELD_*`` environment variables
    apply to it as to any registry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from jackfield.registry import Registry
    from jackfield.testing._fake_server import FakeLLMServer

__all__ = ["fake_llm_server", "jackfield_registry"]

# Plain asserts in the conformance battery get pytest's detailed failure messages.
pytest.register_assert_rewrite("jackfield.testing._conformance")

_NEEDS_ASYNCIO = (
    "the fake_llm_server fixture is async and needs pytest-asyncio "
    "(pip install pytest-asyncio; auto or strict mode both work). Without it, start "
    "the server yourself: `async with jackfield.testing.FakeLLMServer() as server: ...`"
)


@pytest.fixture
def fake_llm_server(request: pytest.FixtureRequest) -> FakeLLMServer:
    """A started :class:`~jackfield.testing.FakeLLMServer`, stopped after the test."""
    if not request.config.pluginmanager.has_plugin("asyncio"):
        pytest.fail(_NEEDS_ASYNCIO, pytrace=False)
    server: FakeLLMServer = request.getfixturevalue("_jackfield_fake_llm_server")
    return server


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - exercised in an environment without it
    pass
else:

    @pytest_asyncio.fixture
    async def _jackfield_fake_llm_server() -> AsyncIterator[FakeLLMServer]:
        """The async half of ``fake_llm_server`` (run by pytest-asyncio)."""
        from jackfield.testing._fake_server import FakeLLMServer

        server = FakeLLMServer()
        await server.start()
        try:
            yield server
        finally:
            await server.stop()


@pytest.fixture
def jackfield_registry() -> Iterator[Registry]:
    """A fresh registry with every entry point loaded, global for the test's duration."""
    import jackfield.registry._registry as registry_module

    registry = registry_module.Registry()
    registry.load()
    with registry_module._global_lock:
        saved: Any = registry_module._global
        registry_module._global = registry
    try:
        yield registry
    finally:
        with registry_module._global_lock:
            registry_module._global = saved
        registry.clear_cache()
