"""Fixtures for ses-proxy's integration tests (run with /usr/bin/python3).

  creds, creds_token   the test credentials (standin_ses.Credentials), the
                       second with a session token
  standin              a StandinSES on 127.0.0.1 that verifies SigV4 with
                       `creds` (set .credentials to change) and records requests
  proxy_bin            path to the built ses-proxy (skips when there is none)
  proxy_env            factory: the controlled environment a proxy gets
  start_proxy          factory: start_proxy(config=None, env=None, creds=None,
                       creds_via="env"|"config"|"none", endpoint=None,
                       region="us-east-1", extra_args=()) -> ProxyProcess,
                       ready (GET /healthz == 200), stopped with SIGTERM at
                       teardown, where a non-zero exit fails the test
  proxy                start_proxy() with the defaults, pointing at `standin`

The binary is $SES_PROXY_BIN, else $SP_BUILD_DIR/ses-proxy, else
<repo>/build/ses-proxy. When $SES_PROXY_BIN is set it must exist; otherwise
tests that need the binary are skipped. Nothing here runs at import time, so
other test files in this folder are unaffected.
"""

import os
import pathlib

import pytest

import proxyproc
import standin_ses

REPO = pathlib.Path(os.environ.get("SP_SOURCE_DIR")
                    or pathlib.Path(__file__).resolve().parents[2])

ACCESS_KEY = standin_ses.ACCESS_KEY
SECRET_KEY = standin_ses.SECRET_KEY
SESSION_TOKEN = standin_ses.SESSION_TOKEN


@pytest.fixture(scope="session")
def creds():
    return standin_ses.Credentials(ACCESS_KEY, SECRET_KEY, None)


@pytest.fixture(scope="session")
def creds_token():
    return standin_ses.Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)


@pytest.fixture(scope="session")
def proxy_bin():
    explicit = os.environ.get("SES_PROXY_BIN")
    if explicit:
        if not os.access(explicit, os.X_OK):
            pytest.fail("SES_PROXY_BIN=%s is not an executable" % explicit)
        return explicit
    candidates = []
    if os.environ.get("SP_BUILD_DIR"):
        candidates.append(pathlib.Path(os.environ["SP_BUILD_DIR"]) / "ses-proxy")
    candidates.append(REPO / "build" / "ses-proxy")
    for c in candidates:
        if os.access(str(c), os.X_OK):
            return str(c)
    pytest.skip("no ses-proxy binary (set SES_PROXY_BIN or build into build/)")


@pytest.fixture
def standin(creds):
    s = standin_ses.StandinSES(creds, region="us-east-1").start()
    yield s
    s.stop()


@pytest.fixture
def proxy_env(tmp_path):
    """proxy_env(creds=None, endpoint=None, region="us-east-1", **extra) -> env.

    Credentials go in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN
    when given; extra entries are added as they are (None removes one).
    """
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)

    def make(creds=None, endpoint=None, region="us-east-1", **extra):
        env = proxyproc.base_env(home)
        if region:
            env["AWS_REGION"] = region
        if endpoint:
            env["AWS_ENDPOINT_URL_SES"] = endpoint
        if creds is not None:
            env["AWS_ACCESS_KEY_ID"] = creds.access_key
            env["AWS_SECRET_ACCESS_KEY"] = creds.secret_key
            if creds.token:
                env["AWS_SESSION_TOKEN"] = creds.token
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    return make


@pytest.fixture
def start_proxy(request, proxy_bin, proxy_env, tmp_path):
    started = []
    request.node._sp_proxies = started

    def start(config=None, env=None, creds=None, creds_via="env",
              endpoint=None, region="us-east-1", extra_args=(),
              ready_timeout=10.0, check_exit=True, wrapper=None):
        """Start a ready proxy.

        config: overrides deep-merged into proxyproc.DEFAULT_CONFIG.
        env: extra environment entries (None removes one).
        creds: the proxy's credentials (default: what `standin` expects, or
          `creds` when no stand-in is in use).
        creds_via: "env" (AWS_* variables), "config" (credentials.access_key_id
          + secret_access_key_file, long-term keys only), or "none".
        endpoint: AWS_ENDPOINT_URL_SES (default: the stand-in's URL).
        wrapper: argv run before the binary (e.g. prlimit ... --), instead
          of $SES_PROXY_WRAPPER.
        Every proxy started here is stopped when the test ends, failed or
        not: one left running would deliver into a later stand-in that
        happens to get its port.
        """
        if "standin" in request.fixturenames:
            s = request.getfixturevalue("standin")
            creds = creds or s.credentials
            endpoint = endpoint or s.url
        creds = creds or request.getfixturevalue("creds")
        workdir = tmp_path / ("proxy%d" % len(started))
        workdir.mkdir()
        cfg = proxyproc.deep_merge(proxyproc.DEFAULT_CONFIG, config)
        env_creds = None
        if creds_via == "env":
            env_creds = creds
        elif creds_via == "config":
            if creds.token:
                raise ValueError("the config file holds no session token")
            secret_file = workdir / "secret_access_key"
            secret_file.write_text(creds.secret_key)
            secret_file.chmod(0o600)
            cfg = proxyproc.deep_merge(cfg, {"credentials": {
                "access_key_id": creds.access_key,
                "secret_access_key_file": str(secret_file)}})
        elif creds_via != "none":
            raise ValueError("creds_via: %r" % creds_via)
        e = proxy_env(env_creds, endpoint, region, **(env or {}))
        p = proxyproc.ProxyProcess(proxy_bin, workdir, cfg, e,
                                   extra_args=extra_args)
        p.check_exit = check_exit
        if wrapper is not None:
            p.wrapper = list(wrapper)
        started.append(p)
        p.start(ready_timeout)
        return p

    yield start

    problems = []
    for p in started:
        rc = p.stop()
        if p.check_exit and rc not in (0, None):
            problems.append("ses-proxy exited %s after SIGTERM\n%s"
                            % (rc, p.describe()))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def proxy(start_proxy, standin):
    return start_proxy()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach each started proxy's output to the report."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for i, p in enumerate(getattr(item, "_sp_proxies", ())):
            rep.sections.append(("ses-proxy #%d (%s)" % (i, rep.when),
                                 p.describe(6000)))
