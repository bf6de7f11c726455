//! The store: every byte the server keeps, through `object_store` (a local folder or S3).
//!
//! Layout: `ledgers/<id>/ledger` (marker), `ledgers/<id>/cars/<name>`, `ledgers/<id>/heads/<name>`,
//! and the authorization records (docs/auth.md §7.1): `ucans/<cid>`, `revoked/<name>`,
//! `spent/<name>`, `nonces/<window>/<name>`.
//! Invariant: objects are written only with `PutMode::Create` (never overwritten); callers pass names
//! already checked by `names`, so every path here is made of validated segments.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig};

use crate::names::{valid_name, valid_token_name, Kind};

/// The folders of a ledger's authorization records (each holds create-only, named records).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    /// Registered delegations, named by their CID.
    Ucans,
    /// Revocations, named by `name_of(did bytes)`.
    Revoked,
    /// Spent invite keys, named by `name_of(did bytes)`.
    Spent,
}

impl Area {
    fn as_str(self) -> &'static str {
        match self {
            Area::Ucans => "ucans",
            Area::Revoked => "revoked",
            Area::Spent => "spent",
        }
    }
}

/// Why a store call failed.
#[derive(Debug)]
pub enum StoreError {
    NotFound,
    /// The store could not be reached or refused the call (answered as 503).
    Unavailable(String),
}

impl From<object_store::Error> for StoreError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => StoreError::NotFound,
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    /// The store lists names in lexicographic order (S3 does; a local folder does not).
    ordered: bool,
}

/// Opens `spec`: `s3://bucket[/prefix]` (configured from the `AWS_*` environment) or a local folder,
/// created if missing.
pub fn open(spec: &str) -> std::result::Result<Store, String> {
    let ordered = spec.starts_with("s3://");
    let inner: Arc<dyn ObjectStore> = if let Some(rest) = spec.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err("s3 store needs a bucket: s3://bucket[/prefix]".into());
        }
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_virtual_hosted_style_request(false)
            // Fail within seconds, not minutes, when the store is unreachable (answered as 503).
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(10),
                ..Default::default()
            });
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            b = b.with_region("us-east-1");
        }
        for var in ["AWS_ENDPOINT_URL", "AWS_ENDPOINT"] {
            let Ok(endpoint) = std::env::var(var) else {
                continue;
            };
            // object_store panics on a relative endpoint at the first request: refuse it now.
            if !endpoint.starts_with("http://") && !endpoint.starts_with("https://") {
                return Err(format!(
                    "{var} must be an http:// or https:// URL, not {endpoint:?}"
                ));
            }
            b = b
                .with_allow_http(endpoint.starts_with("http://"))
                .with_endpoint(endpoint);
        }
        let s3 = b.build().map_err(|e| format!("s3 store: {e}"))?;
        let prefix = prefix.trim_matches('/');
        if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, prefix))
        }
    } else {
        std::fs::create_dir_all(spec).map_err(|e| format!("store folder {spec}: {e}"))?;
        // a 201 promises a durable object (docs/sync.md §1): files and their folders are
        // fsynced before a put returns
        Arc::new(
            LocalFileSystem::new_with_prefix(spec)
                .map_err(|e| format!("store folder {spec}: {e}"))?
                .with_fsync(true),
        )
    };
    Ok(Store { inner, ordered })
}

fn marker(ledger: &str) -> Path {
    Path::from_iter(["ledgers", ledger, "ledger"])
}

fn dir(ledger: &str, kind: Kind) -> Path {
    Path::from_iter(["ledgers", ledger, kind.as_str()])
}

fn object(ledger: &str, kind: Kind, name: &str) -> Path {
    Path::from_iter(["ledgers", ledger, kind.as_str(), name])
}

fn create_opts() -> PutOptions {
    PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    }
}

impl Store {
    /// Writes the marker of a new ledger; `false` if the id is taken.
    pub async fn create_ledger(&self, ledger: &str, body: Vec<u8>) -> Result<bool> {
        self.create(&marker(ledger), body.into()).await
    }

    pub async fn ledger_exists(&self, ledger: &str) -> Result<bool> {
        match self.inner.head(&marker(ledger)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Create-only put: `true` if this call created the object, `false` if it already existed.
    pub async fn put(&self, ledger: &str, kind: Kind, name: &str, bytes: Bytes) -> Result<bool> {
        self.create(&object(ledger, kind, name), bytes.into()).await
    }

    async fn create(&self, path: &Path, payload: PutPayload) -> Result<bool> {
        match self.inner.put_opts(path, payload, create_opts()).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get(&self, ledger: &str, kind: Kind, name: &str) -> Result<Bytes> {
        Ok(self
            .inner
            .get(&object(ledger, kind, name))
            .await?
            .bytes()
            .await?)
    }

    /// Deletes an object; absent objects are not an error.
    pub async fn delete(&self, ledger: &str, kind: Kind, name: &str) -> Result<()> {
        match self.inner.delete(&object(ledger, kind, name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Up to `limit` names after `after` (exclusive), sorted; `true` when more remain. Anything in the
    /// folder that is not a valid name (a store's temporary file, say) is skipped.
    pub async fn list(
        &self,
        ledger: &str,
        kind: Kind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, bool)> {
        let prefix = dir(ledger, kind);
        let stream = match after {
            Some(a) => self
                .inner
                .list_with_offset(Some(&prefix), &object(ledger, kind, a)),
            None => self.inner.list(Some(&prefix)),
        };
        // Only the `limit + 1` smallest names are kept, so a page costs memory for its own names
        // whatever the folder holds; a store that lists in order stops once it has them.
        let mut stream = stream;
        let mut names = std::collections::BTreeSet::new();
        while let Some(m) = stream.try_next().await? {
            let Some(n) = m.location.filename() else {
                continue;
            };
            if !valid_name(n) || after.is_some_and(|a| n <= a) {
                continue;
            }
            if names.len() > limit && names.last().is_some_and(|l: &String| n >= l.as_str()) {
                if self.ordered {
                    break;
                }
                continue;
            }
            names.insert(n.to_owned());
            if names.len() > limit + 1 {
                names.pop_last();
            }
        }
        let more = names.len() > limit;
        let mut names: Vec<String> = names.into_iter().collect();
        names.truncate(limit);
        Ok((names, more))
    }

    /// Create-only write of a record: `true` if this call created it.
    pub async fn put_record(
        &self,
        ledger: &str,
        area: Area,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<bool> {
        let path = Path::from_iter(["ledgers", ledger, area.as_str(), name]);
        self.create(&path, bytes.into()).await
    }

    /// A record's bytes, `None` if absent.
    pub async fn get_record(&self, ledger: &str, area: Area, name: &str) -> Result<Option<Bytes>> {
        let path = Path::from_iter(["ledgers", ledger, area.as_str(), name]);
        match self.inner.get(&path).await {
            Ok(r) => Ok(Some(r.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The names of an area's records (anything not a valid name is skipped).
    pub async fn list_records(&self, ledger: &str, area: Area) -> Result<Vec<String>> {
        let prefix = Path::from_iter(["ledgers", ledger, area.as_str()]);
        let metas: Vec<_> = self.inner.list(Some(&prefix)).try_collect().await?;
        Ok(metas
            .into_iter()
            .filter_map(|m| m.location.filename().map(str::to_owned))
            .filter(|n| valid_name(n) || valid_token_name(n))
            .collect())
    }

    /// Creates the replay marker `nonces/<window>/<name>`: `false` if it already exists.
    pub async fn put_nonce(
        &self,
        ledger: &str,
        window: i64,
        name: &str,
        body: Vec<u8>,
    ) -> Result<bool> {
        let window = window.to_string();
        let path = Path::from_iter(["ledgers", ledger, "nonces", &window, name]);
        self.create(&path, body.into()).await
    }

    /// Deletes every replay marker of a window before `window`; returns how many were deleted.
    pub async fn clean_nonces(&self, ledger: &str, window: i64) -> Result<usize> {
        let prefix = Path::from_iter(["ledgers", ledger, "nonces"]);
        let metas: Vec<_> = self.inner.list(Some(&prefix)).try_collect().await?;
        let mut deleted = 0;
        for m in metas {
            let old = m
                .location
                .prefix_match(&prefix)
                .and_then(|mut parts| parts.next())
                .and_then(|w| w.as_ref().parse::<i64>().ok())
                .is_some_and(|w| w < window);
            if old {
                match self.inner.delete(&m.location).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => deleted += 1,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(deleted)
    }

    /// Every name of `kind` (for polling).
    pub async fn list_all(&self, ledger: &str, kind: Kind) -> Result<Vec<String>> {
        Ok(self.list(ledger, kind, None, usize::MAX - 1).await?.0)
    }
}
