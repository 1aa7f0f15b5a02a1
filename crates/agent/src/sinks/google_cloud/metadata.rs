//! Where the logs come from: the project and the monitored resource, read once at start from the
//! GCE/GKE metadata server (short timeouts, so off Google Cloud the agent starts at once with the
//! `global` resource) and from the downward-API names in the configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use gcloud_logging::MonitoredResource;
use http::Request;
use http_body_util::Full;

use super::config::GoogleCloudConfig;
use super::http::{HttpClient, HttpError};

/// Why the project or a metadata value is not known.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// The request could not be made (a metadata host that does not make a URI).
    #[error("metadata request for {path}: {source}")]
    Request {
        path: String,
        #[source]
        source: http::Error,
    },
    /// No metadata server answered: off Google Cloud, or it did not answer in time.
    #[error("metadata server {host}: {source}")]
    Transport {
        host: String,
        #[source]
        source: HttpError,
    },
    /// It answered something else than the value or 404.
    #[error("metadata server {host} answered {status} for {path}")]
    Status {
        host: String,
        path: String,
        status: u16,
    },
    /// Neither the configuration, the metadata server nor the credentials name the project.
    #[error(
        "the project id is unknown: set `project_id` (no metadata server answered and the \
         credentials name none)"
    )]
    UnknownProject,
}

/// A client for `http://<host>/computeMetadata/v1/…`.
#[derive(Clone)]
pub struct MetadataClient {
    host: String,
    http: HttpClient,
    timeout: Duration,
}

impl MetadataClient {
    /// `host` may carry a port (`127.0.0.1:8080`), as `GCE_METADATA_HOST` does.
    pub fn new(host: &str, http: HttpClient, timeout: Duration) -> MetadataClient {
        MetadataClient {
            host: host.trim_end_matches('/').to_owned(),
            http,
            timeout,
        }
    }

    /// The URL of a metadata path.
    pub fn url(&self, path: &str) -> String {
        let host = self
            .host
            .strip_prefix("http://")
            .unwrap_or(self.host.as_str());
        format!("http://{host}/computeMetadata/v1/{path}")
    }

    /// The value at `path`: `Ok(None)` when the server says 404, `Err` when there is no server
    /// or it answers something else.
    pub async fn get(&self, path: &str) -> Result<Option<String>, MetadataError> {
        let request = Request::get(self.url(path))
            .header("Metadata-Flavor", "Google")
            .body(Full::new(Bytes::new()))
            .map_err(|source| MetadataError::Request {
                path: path.to_owned(),
                source,
            })?;
        let answer = self
            .http
            .send(request, self.timeout)
            .await
            .map_err(|source| MetadataError::Transport {
                host: self.host.clone(),
                source,
            })?;
        match answer.status.as_u16() {
            200 => Ok(Some(
                String::from_utf8_lossy(&answer.body).trim().to_owned(),
            )),
            404 => Ok(None),
            status => Err(MetadataError::Status {
                host: self.host.clone(),
                path: path.to_owned(),
                status,
            }),
        }
    }
}

/// What the metadata server knows about this machine; all empty off Google Cloud.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineFacts {
    pub on_gce: bool,
    pub project_id: Option<String>,
    pub zone: Option<String>,
    pub instance_id: Option<String>,
    pub instance_name: Option<String>,
    pub cluster_name: Option<String>,
    pub cluster_location: Option<String>,
}

/// Asks the metadata server; `on_gce` is false when it does not answer the project id.
pub async fn machine_facts(client: &MetadataClient) -> MachineFacts {
    let project_id = match client.get("project/project-id").await {
        Ok(Some(p)) if !p.is_empty() => p,
        Ok(_) => return MachineFacts::default(),
        Err(e) => {
            tracing::info!(error = %e, "no metadata server; not on GCE or GKE");
            return MachineFacts::default();
        }
    };
    let (zone, id, name, cluster, location) = tokio::join!(
        client.get("instance/zone"),
        client.get("instance/id"),
        client.get("instance/name"),
        client.get("instance/attributes/cluster-name"),
        client.get("instance/attributes/cluster-location"),
    );
    let value =
        |r: Result<Option<String>, MetadataError>| r.ok().flatten().filter(|v| !v.is_empty());
    MachineFacts {
        on_gce: true,
        project_id: Some(project_id),
        // `projects/123/zones/asia-northeast1-a` → `asia-northeast1-a`.
        zone: value(zone).map(|z| z.rsplit('/').next().unwrap_or_default().to_owned()),
        instance_id: value(id),
        instance_name: value(name),
        cluster_name: value(cluster),
        cluster_location: value(location),
    }
}

/// The project and resource every request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub project_id: String,
    pub resource: MonitoredResource,
}

/// Chooses the project and resource from the configuration first, then the machine's facts, then
/// `fallback_project` (a key file's `project_id`).
pub fn resolve(
    config: &GoogleCloudConfig,
    facts: &MachineFacts,
    fallback_project: Option<&str>,
) -> Result<Resolved, MetadataError> {
    let project_id = config
        .project_id
        .clone()
        .or_else(|| facts.project_id.clone())
        .or_else(|| fallback_project.map(str::to_owned))
        .ok_or(MetadataError::UnknownProject)?;
    let zone = config.zone.clone().or_else(|| facts.zone.clone());
    let instance_id = config.vm_id.clone().or_else(|| facts.instance_id.clone());
    let (location, cluster) = cluster_of(config, facts);
    let on_gke = config.k8s_cluster_name.is_some() || facts.cluster_name.is_some();
    let detected_type = if on_gke {
        "k8s_container"
    } else if facts.on_gce || instance_id.is_some() {
        "gce_instance"
    } else {
        "global"
    };
    let kind = config.resource_type.as_deref().unwrap_or(detected_type);

    let mut labels = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            labels.insert(k.to_owned(), v);
        }
    };
    put("project_id", Some(project_id.clone()));
    match kind {
        "k8s_container" => {
            put("location", location);
            put("cluster_name", cluster);
            put("namespace_name", config.k8s_namespace_name.clone());
            put("pod_name", config.k8s_pod_name.clone());
            put("container_name", config.k8s_container_name.clone());
        }
        "container" => {
            // The legacy GKE type the original fluentd-gcp image wrote.
            put("cluster_name", cluster);
            put("namespace_id", config.k8s_namespace_name.clone());
            put("instance_id", instance_id);
            put("pod_id", config.k8s_pod_name.clone());
            put("container_name", config.k8s_container_name.clone());
            put("zone", zone);
        }
        "gce_instance" => {
            put("instance_id", instance_id);
            put("zone", zone);
        }
        _ => {}
    }
    labels.extend(config.resource_labels.clone());
    Ok(Resolved {
        project_id,
        resource: MonitoredResource {
            r#type: kind.to_owned(),
            labels,
        },
    })
}

/// The cluster's location and name: `k8s_cluster_location`/`k8s_cluster_name`, else the node's
/// `cluster-location`/`cluster-name` attributes (the location falls back to the zone);
/// `resource_labels` override both.
pub fn cluster_of(
    config: &GoogleCloudConfig,
    facts: &MachineFacts,
) -> (Option<String>, Option<String>) {
    let zone = config.zone.clone().or_else(|| facts.zone.clone());
    let location = (config.resource_labels.get("location").cloned())
        .or_else(|| config.k8s_cluster_location.clone())
        .or_else(|| facts.cluster_location.clone())
        .or(zone);
    let cluster = (config.resource_labels.get("cluster_name").cloned())
        .or_else(|| config.k8s_cluster_name.clone())
        .or_else(|| facts.cluster_name.clone());
    (location, cluster)
}
