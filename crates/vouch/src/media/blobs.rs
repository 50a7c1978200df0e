//! Where encrypted files live: a trait, so that an object store can stand beside the
//! filesystem, and the filesystem under `media.dir` (by default `<data_dir>/media`).

use std::io;
use std::path::PathBuf;

use async_trait::async_trait;

/// Opaque encrypted bytes under a key such as `<session>/<media>.display`.
#[async_trait]
pub trait Blobs: Send + Sync + 'static {
    /// Durable when it returns (a crash afterwards does not lose it).
    async fn put(&self, key: &str, bytes: Vec<u8>) -> io::Result<()>;
    async fn get(&self, key: &str) -> io::Result<Option<Vec<u8>>>;
    /// Removes one blob (none there is fine).
    async fn delete(&self, key: &str) -> io::Result<()>;
    /// Removes every blob under `prefix/`.
    async fn delete_all(&self, prefix: &str) -> io::Result<()>;
}

pub struct FsBlobs {
    root: PathBuf,
}

impl FsBlobs {
    pub fn new(root: PathBuf) -> io::Result<Self> {
        std::fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    /// Keys are made by vouch from ids; anything else is refused rather than resolved.
    fn path(&self, key: &str) -> io::Result<PathBuf> {
        let ok = !key.is_empty()
            && key.split('/').all(|part| {
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            });
        if !ok {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad blob key"));
        }
        Ok(self.root.join(key))
    }
}

#[async_trait]
impl Blobs for FsBlobs {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> io::Result<()> {
        let path = self.path(key)?;
        tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let dir = path.parent().expect("a key has a folder");
            std::fs::create_dir_all(dir)?;
            // Written whole under a temporary name, synced, then renamed: a reader never sees
            // half a file, and a crash leaves at worst a temporary file.
            let mut tmp = path.clone().into_os_string();
            tmp.push(".tmp");
            let tmp = PathBuf::from(tmp);
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(dir)?.sync_all()
        })
        .await
        .map_err(io::Error::other)?
    }

    async fn get(&self, key: &str) -> io::Result<Option<Vec<u8>>> {
        let path = self.path(key)?;
        match tokio::fs::read(path).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, key: &str) -> io::Result<()> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    async fn delete_all(&self, prefix: &str) -> io::Result<()> {
        let path = self.path(prefix)?;
        match tokio::fs::remove_dir_all(path).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
