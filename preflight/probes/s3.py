"""HeadBucket, with botocore's own retries off: the runner owns retries and the deadline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from preflight.redact import strip_url_userinfo


@dataclass(frozen=True)
class BucketObservation:
    bucket: str
    http_status: int  # 200, or the status of the refusal
    error_code: str | None
    bucket_region: str | None  # from x-amz-bucket-region, when the server says
    client_region: str | None
    endpoint: str
    no_credentials: bool = False


def make_client(timeout: float) -> Any:
    import botocore.config
    import botocore.session

    config = botocore.config.Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"total_max_attempts": 1},
    )
    session = botocore.session.get_session()
    session.register_component("data_loader", only_loader(
        session.get_config_variable("data_path"), "s3"))
    return session.create_client("s3", config=config)


def only_loader(data_path: str | None, service: str) -> Any:
    """botocore's loader, told that `service` is the only service there is.

    Creating a client validates its name against every service botocore knows: about 900
    directory listings and 2,700 stats (~30 ms) on each start, to learn that s3 exists.
    """
    import os

    import botocore.loaders

    class OneServiceLoader(botocore.loaders.Loader):
        def list_available_services(self, type_name: str) -> list[str]:
            present = any(os.path.isdir(os.path.join(path, service))
                          for path in self.search_paths)
            return [service] if present else []

    extra = [os.path.expanduser(os.path.expandvars(path))
             for path in (data_path or "").split(os.pathsep) if path]
    return OneServiceLoader(extra_search_paths=extra)


def head_bucket(client: Any, bucket: str) -> BucketObservation:
    """Definitive answers come back as data; transient ones are raised for the runner."""
    from botocore.exceptions import ClientError, NoCredentialsError

    from preflight.retry import is_transient

    endpoint = strip_url_userinfo(str(client.meta.endpoint_url))
    region = client.meta.region_name
    try:
        response = client.head_bucket(Bucket=bucket)
    except NoCredentialsError:
        return BucketObservation(bucket, 0, "NoCredentials", None, region, endpoint, True)
    except ClientError as error:
        if is_transient(error):
            raise
        meta = error.response.get("ResponseMetadata", {})
        headers = meta.get("HTTPHeaders", {})
        return BucketObservation(
            bucket=bucket,
            http_status=int(meta.get("HTTPStatusCode") or 0),
            error_code=str(error.response.get("Error", {}).get("Code") or "") or None,
            bucket_region=headers.get("x-amz-bucket-region"),
            client_region=region,
            endpoint=endpoint,
        )
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return BucketObservation(bucket, 200, None, headers.get("x-amz-bucket-region")
                             or response.get("BucketRegion"), region, endpoint)
