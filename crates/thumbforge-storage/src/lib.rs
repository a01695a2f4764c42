#![doc = include_str!("../README.md")]

use std::{path::Path, sync::Arc, time::Duration};

use bytes::Bytes;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, PutPayload,
    aws::{AmazonS3, AmazonS3Builder},
    local::LocalFileSystem,
    path::Path as ObjectPath,
    prefix::PrefixStore,
    signer::Signer,
};
use thumbforge_core::OutputFormat;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("object not found: {0}")]
    NotFound(String),
    #[error("storage: {0}")]
    Backend(#[from] object_store::Error),
    #[error("storage path: {0}")]
    Path(#[from] object_store::path::Error),
    #[error("creating storage directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("storage url {0:?}: expected s3://BUCKET or s3://BUCKET/PREFIX")]
    Url(String),
}

/// Where objects live, and how a client is handed one.
#[derive(Debug, Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// S3 only: signs GET URLs of objects under `prefix`.
    signer: Option<(Arc<AmazonS3>, ObjectPath)>,
    described: String,
}

/// An S3-compatible bucket (AWS S3, MinIO, Ceph, R2, ...). Credentials,
/// region and endpoint also come from the usual `AWS_*` environment
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
/// `AWS_REGION`, `AWS_ENDPOINT`, web identity, ECS and instance
/// metadata); what is set here wins.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// `s3://BUCKET` or `s3://BUCKET/PREFIX`.
    pub url: String,
    /// A custom endpoint (MinIO, Ceph, R2), e.g. `http://127.0.0.1:9000`.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Static credentials; unset, the usual chain.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Allow an `http://` endpoint.
    pub allow_http: bool,
    /// `https://BUCKET.host/...` rather than `https://host/BUCKET/...`.
    pub virtual_hosted_style: bool,
    /// Longest a request may take, and longest a connection may take to
    /// open: a dead peer holds nothing longer than this.
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

/// The clean file of a thumbnail, named with its format's extension
/// (`.png`, `.jpg`, `.webp`; a PNG's key is what it always was).
pub fn thumbnail_key(generation_id: &str, thumbnail_id: &str, format: OutputFormat) -> String {
    format!(
        "thumbnails/{generation_id}/{thumbnail_id}.{}",
        format.extension()
    )
}

/// The watermarked file of a thumbnail (free plan).
pub fn watermarked_key(generation_id: &str, thumbnail_id: &str, format: OutputFormat) -> String {
    format!(
        "thumbnails/{generation_id}/{thumbnail_id}.wm.{}",
        format.extension()
    )
}

/// Every object a thumbnail of this format may have (clean and
/// watermarked): what deleting it removes.
pub fn thumbnail_keys(
    generation_id: &str,
    thumbnail_id: &str,
    format: OutputFormat,
) -> [String; 2] {
    [
        thumbnail_key(generation_id, thumbnail_id, format),
        watermarked_key(generation_id, thumbnail_id, format),
    ]
}

/// S3 serves an object with the type its key's extension names, so a
/// presigned URL hands out a file a browser or YouTube takes.
fn content_types(options: ClientOptions) -> ClientOptions {
    OutputFormat::ALL
        .into_iter()
        .fold(options, |options, format| {
            options.with_content_type_for_suffix(format.extension(), format.content_type())
        })
}

impl Storage {
    /// Files under `root`, which is created when missing.
    pub fn local(root: &Path) -> Result<Storage, StorageError> {
        std::fs::create_dir_all(root)?;
        Ok(Storage {
            store: Arc::new(LocalFileSystem::new_with_prefix(root)?),
            signer: None,
            described: root.display().to_string(),
        })
    }

    /// Objects in an S3-compatible bucket, under its prefix.
    pub fn s3(options: &S3Options) -> Result<Storage, StorageError> {
        let rest = options
            .url
            .strip_prefix("s3://")
            .ok_or_else(|| StorageError::Url(options.url.clone()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StorageError::Url(options.url.clone()));
        }
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_allow_http(options.allow_http)
            .with_client_options(content_types(
                ClientOptions::new()
                    .with_timeout(options.timeout)
                    .with_connect_timeout(options.connect_timeout)
                    .with_allow_http(options.allow_http),
            ));
        if options.virtual_hosted_style {
            builder = builder.with_virtual_hosted_style_request(true);
        }
        if let Some(endpoint) = &options.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &options.region {
            builder = builder.with_region(region);
        }
        if let (Some(id), Some(secret)) = (&options.access_key_id, &options.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret);
        }
        let s3 = Arc::new(builder.build()?);
        let prefix = ObjectPath::parse(prefix.trim_matches('/'))?;
        let store: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
            s3.clone()
        } else {
            Arc::new(PrefixStore::new(s3.clone(), prefix.clone()))
        };
        Ok(Storage {
            store,
            signer: Some((s3, prefix)),
            described: options.url.clone(),
        })
    }

    /// Where the objects are, for logs: a directory or an `s3://` URL.
    pub fn describe(&self) -> &str {
        &self.described
    }

    /// Whether [`Storage::presigned_get`] can hand out URLs.
    pub fn can_presign(&self) -> bool {
        self.signer.is_some()
    }

    /// A URL that lets anyone holding it GET `key` straight from the
    /// bucket for `ttl`; `None` for local files.
    pub async fn presigned_get(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Result<Option<String>, StorageError> {
        let Some((s3, prefix)) = &self.signer else {
            return Ok(None);
        };
        let path = ObjectPath::parse(key)?;
        let full: ObjectPath = prefix.parts().chain(path.parts()).collect();
        let url = s3.signed_url(http::Method::GET, &full, ttl).await?;
        Ok(Some(url.to_string()))
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        let path = ObjectPath::parse(key)?;
        self.store.put(&path, PutPayload::from(bytes)).await?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        let path = ObjectPath::parse(key)?;
        match self.store.get(&path).await {
            Ok(result) => Ok(result.bytes().await?),
            Err(object_store::Error::NotFound { .. }) => {
                Err(StorageError::NotFound(key.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a key; a missing key is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = ObjectPath::parse(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_delete_round_trip() -> Result<(), StorageError> {
        let dir = tempfile::tempdir()?;
        let storage = Storage::local(dir.path())?;
        let key = thumbnail_key("gen_a", "thm_b", OutputFormat::Png);
        assert_eq!(key, "thumbnails/gen_a/thm_b.png");
        assert_eq!(
            watermarked_key("gen_a", "thm_b", OutputFormat::Jpeg),
            "thumbnails/gen_a/thm_b.wm.jpg"
        );
        storage.put(&key, b"png".to_vec()).await?;
        storage.put(&key, b"png2".to_vec()).await?; // idempotent overwrite
        assert_eq!(&storage.get(&key).await?[..], b"png2");
        storage.delete(&key).await?;
        storage.delete(&key).await?;
        assert!(matches!(
            storage.get(&key).await,
            Err(StorageError::NotFound(_))
        ));
        Ok(())
    }
}
