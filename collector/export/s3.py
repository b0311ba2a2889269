"""An S3-compatible bucket as an export destination (boto3, an optional extra: sitelens[s3])."""

from __future__ import annotations

from typing import Any

from collector.config import ConfigError
from collector.export.destinations import DestinationError, Sent
from collector.export.staging import StagedRun

S3_MISSING = "an s3 export destination needs boto3: install it with  pip install 'sitelens[s3]'"
S3_KEYS = {
    "type",
    "name",
    "endpoint_url",
    "bucket",
    "prefix",
    "region",
    "access_key_id",
    "secret_access_key",
    "session_token",
    "profile",
    "addressing_style",
    "multipart_threshold_mb",
    "checksum",
}
CONTENT_TYPES = {
    "parquet": "application/vnd.apache.parquet",
    "gz": "application/gzip",
    "json": "application/json",
}


class S3Destination:
    """Uploads a run's objects (multipart when large, SHA-256 checked), then the manifest."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        name: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        profile: str | None = None,
        addressing_style: str = "auto",
        multipart_threshold: int = 64 * 1024 * 1024,
        checksum: bool = True,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.name = name or f"s3:{bucket}/{self.prefix}"
        self.endpoint_url = endpoint_url
        self.region = region
        self._credentials = (access_key_id, secret_access_key, session_token)
        self.profile = profile
        self.addressing_style = addressing_style
        self.multipart_threshold = multipart_threshold
        self.checksum = checksum
        self._client: Any = None

    def client(self) -> Any:
        """A boto3 S3 client: explicit keys from config, else the standard AWS env/profile chain."""
        if self._client is None:
            import boto3
            from botocore.config import Config as BotoConfig

            key, secret, token = self._credentials
            session = boto3.session.Session(
                aws_access_key_id=key or None,
                aws_secret_access_key=secret or None,
                aws_session_token=token or None,
                region_name=self.region or None,
                profile_name=self.profile or None,
            )
            self._client = session.client(
                "s3",
                endpoint_url=self.endpoint_url or None,
                config=BotoConfig(
                    connect_timeout=5,
                    read_timeout=60,
                    retries={"max_attempts": 3, "mode": "standard"},
                    s3={"addressing_style": self.addressing_style},
                ),
            )
        return self._client

    def key(self, relative: str) -> str:
        return self.prefix + relative

    def deliver(self, staged: StagedRun, sent: Sent) -> None:
        from boto3.exceptions import Boto3Error
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError

        transfer = TransferConfig(
            multipart_threshold=self.multipart_threshold,
            multipart_chunksize=max(self.multipart_threshold, 8 * 1024 * 1024),
            max_concurrency=4,
        )
        try:
            client = self.client()
            for obj in staged.objects:
                key = self.key(obj.key)
                extra: dict[str, Any] = {
                    "Metadata": {"sha256": obj.sha256, "rows": str(obj.rows)},
                    "ContentType": CONTENT_TYPES.get(key.rsplit(".", 1)[-1], "application/octet-stream"),
                }
                if self.checksum:
                    extra["ChecksumAlgorithm"] = "SHA256"
                client.upload_file(
                    str(obj.path), self.bucket, key, ExtraArgs=extra, Config=transfer, Callback=sent
                )
                head = client.head_object(Bucket=self.bucket, Key=key)
                if (
                    int(head["ContentLength"]) != obj.bytes
                    or head.get("Metadata", {}).get("sha256") != obj.sha256
                ):
                    raise DestinationError(
                        f"s3://{self.bucket}/{key}: stored object differs from what was sent"
                    )
            extra = {"ChecksumAlgorithm": "SHA256"} if self.checksum else {}
            client.put_object(
                Bucket=self.bucket,
                Key=self.key(staged.manifest_key),
                Body=staged.manifest,
                ContentType="application/json",
                **extra,
            )
            sent(len(staged.manifest))
        except (BotoCoreError, ClientError, Boto3Error, OSError) as exc:
            raise DestinationError(_short(exc)) from None


def _short(exc: Exception) -> str:
    """One line: botocore messages can be long and multi-line."""
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


def s3_destination(spec: dict[str, Any], where: str) -> S3Destination:
    """An S3Destination from a [[export.destinations]] table, or a ConfigError saying what is wrong."""
    unknown = set(spec) - S3_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting {sorted(unknown)[0]!r} (known: {', '.join(sorted(S3_KEYS))})"
        )
    for key in S3_KEYS - {"type", "multipart_threshold_mb", "checksum"}:
        if key in spec and not isinstance(spec[key], str):
            raise ConfigError(f"{where}.{key}: expected a string")
    bucket = spec.get("bucket", "")
    if not bucket:
        raise ConfigError(f'{where}: an s3 destination needs bucket = "NAME"')
    endpoint = spec.get("endpoint_url", "")
    if endpoint and not endpoint.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.endpoint_url: expected http:// or https:// URL, got {endpoint!r}")
    if bool(spec.get("access_key_id")) != bool(spec.get("secret_access_key")):
        raise ConfigError(
            f"{where}: set both access_key_id and secret_access_key, or neither (AWS env/profile)"
        )
    style = spec.get("addressing_style", "auto")
    if style not in ("auto", "path", "virtual"):
        raise ConfigError(f"{where}.addressing_style: expected auto, path or virtual")
    threshold = spec.get("multipart_threshold_mb", 64)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold <= 0:
        raise ConfigError(f"{where}.multipart_threshold_mb: expected a positive number")
    checksum = spec.get("checksum", "sha256")
    if checksum not in ("sha256", "none"):
        raise ConfigError(f'{where}.checksum: expected "sha256" or "none"')
    try:
        import boto3  # noqa: F401
    except ImportError:
        raise ConfigError(S3_MISSING) from None
    return S3Destination(
        bucket,
        spec.get("prefix", ""),
        name=spec.get("name", ""),
        endpoint_url=endpoint or None,
        region=spec.get("region") or None,
        access_key_id=spec.get("access_key_id") or None,
        secret_access_key=spec.get("secret_access_key") or None,
        session_token=spec.get("session_token") or None,
        profile=spec.get("profile") or None,
        addressing_style=style,
        multipart_threshold=int(threshold * 1024 * 1024),
        checksum=checksum == "sha256",
    )
