#![doc = include_str!("../README.md")]

use std::{path::Path, sync::Arc};

use bytes::Bytes;
use object_store::{
    ObjectStore, ObjectStoreExt, PutPayload, local::LocalFileSystem, path::Path as ObjectPath,
};

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
}

#[derive(Debug, Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
}

/// The clean PNG of a thumbnail.
pub fn thumbnail_key(generation_id: &str, thumbnail_id: &str) -> String {
    format!("thumbnails/{generation_id}/{thumbnail_id}.png")
}

/// The watermarked PNG of a thumbnail (free plan).
pub fn watermarked_key(generation_id: &str, thumbnail_id: &str) -> String {
    format!("thumbnails/{generation_id}/{thumbnail_id}.wm.png")
}

impl Storage {
    /// Files under `root`, which is created when missing.
    pub fn local(root: &Path) -> Result<Storage, StorageError> {
        std::fs::create_dir_all(root)?;
        Ok(Storage {
            store: Arc::new(LocalFileSystem::new_with_prefix(root)?),
        })
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
        let key = thumbnail_key("gen_a", "thm_b");
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
