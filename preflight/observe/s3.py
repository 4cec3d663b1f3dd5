"""HeadBucket, with botocore's own retries off: the runner owns retries and the deadline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from preflight.contract.targets.s3 import S3Endpoint
from preflight.core.redact import strip_url_userinfo
from preflight.observe import aws
from preflight.observe.clients import Clients
from preflight.observe.errors import Transient, classify, is_transient


@dataclass(frozen=True)
class BucketObservation:
    bucket: str
    http_status: int  # 200, or the status of the refusal
    error_code: str | None
    bucket_region: str | None  # from x-amz-bucket-region, when the server says
    client_region: str | None
    endpoint: str
    no_credentials: bool = False


def make_client(timeout: float, session: Any | None = None) -> Any:
    """An S3 client on the run's botocore session (see preflight.observe.aws)."""
    import botocore.config

    config = botocore.config.Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"total_max_attempts": 1},
    )
    return (session or aws.make_session(timeout)).create_client("s3", config=config)


def head_bucket(client: Any, bucket: str) -> BucketObservation:
    """Definitive answers come back as data; the rest is raised as `classify` says."""
    from botocore.exceptions import ClientError, NoCredentialsError

    endpoint = strip_url_userinfo(str(client.meta.endpoint_url))
    region = client.meta.region_name
    try:
        response = client.head_bucket(Bucket=bucket)
    except NoCredentialsError:
        return BucketObservation(bucket, 0, "NoCredentials", None, region, endpoint, True)
    except ClientError as error:
        if is_transient(error):
            raise Transient(error) from error
        meta = error.response.get("ResponseMetadata", {})
        headers = meta.get("HTTPHeaders", {})
        status = int(meta.get("HTTPStatusCode") or 0)
        code = str(error.response.get("Error", {}).get("Code") or "") or None
        if status == 403:
            code = _why_forbidden(client, bucket) or code
        return BucketObservation(
            bucket=bucket,
            http_status=status,
            error_code=code,
            bucket_region=headers.get("x-amz-bucket-region"),
            client_region=region,
            endpoint=endpoint,
        )
    except Exception as error:
        raise classify(error) from error
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return BucketObservation(bucket, 200, None, headers.get("x-amz-bucket-region")
                             or response.get("BucketRegion"), region, endpoint)


def _why_forbidden(client: Any, bucket: str) -> str | None:
    """The error code behind HeadBucket's bare 403, which has no body to say it.

    An unknown access key, a wrong secret and a missing permission all look alike there;
    their fixes differ. ListObjectsV2 with MaxKeys=0 needs the same permission
    (s3:ListBucket), reads nothing, and its error has a body with the code.
    """
    from botocore.exceptions import ClientError

    try:
        client.list_objects_v2(Bucket=bucket, MaxKeys=0)
    except ClientError as error:
        if is_transient(error):
            raise Transient(error) from error
        code = error.response.get("Error", {}).get("Code")
        return str(code) if code else None
    except Exception as error:
        raise classify(error) from error
    return None


def observe(endpoint: S3Endpoint, timeout: float, clients: Clients,
            ) -> BucketObservation | aws.Identity:
    """The bucket, or the credential chain's failure (aws.credentials' observation)."""
    chain = aws.resolve_chain(clients.aws_session())
    return chain if chain.failed else head_bucket(clients.s3_client(), endpoint.bucket)
