"""botocore sessions that read SES's models from this repository.

The proxy's C tables are generated from the botocore models kept in
tests/data/botocore (see the NOTICE there), which are newer than the
botocore the integration tests run under (Debian's). An oracle judging the
proxy must use the same models, so every test that asks botocore or boto3
about SES makes its session here: the session's data loader searches
tests/data/botocore before the installed package's own data, for every file
type (service-2, endpoint-rule-set-1, paginators-1, waiters-2), and falls
back to the installed data for services the repository does not keep (sts,
and the endpoints and retry files every client reads).

    import botocore_models
    model = botocore_models.service_model("ses")
    client = botocore_models.boto3_session().client("ses", ...)
"""
import functools
import os

import botocore.session

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                    "botocore")


def session():
    """A new botocore session whose loader prefers tests/data/botocore."""
    s = botocore.session.get_session()
    loader = s.get_component("data_loader")
    # Before anything is loaded: the loader caches what it has found.
    loader.search_paths.insert(0, DATA)
    return s


def boto3_session(**kw):
    """A boto3 session over session() (boto3 is imported only when used)."""
    import boto3
    return boto3.Session(botocore_session=session(), **kw)


@functools.lru_cache(maxsize=None)
def service_model(name):
    """The service model for name ('ses', 'sesv2'), loaded once."""
    return session().get_service_model(name)


def loaded_from(name, type_name="service-2"):
    """The file the session's loader reads for name's newest API version."""
    loader = session().get_component("data_loader")
    version = loader.determine_latest_version(name, type_name)
    _, path = loader.load_data_with_path(os.path.join(name, version, type_name))
    return path
