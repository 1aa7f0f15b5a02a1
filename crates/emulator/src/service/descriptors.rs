//! `ListMonitoredResourceDescriptors`: the resource types the emulator describes, with their
//! labels, as Cloud Logging lists them. The emulator stores entries of any resource type; this
//! list is what clients show or validate against (the types logferry and GKE write first).

use super::{Error, hex, page_size, unhex};

/// One monitored resource type and the labels that identify an instance of it.
#[derive(Debug)]
pub(crate) struct ResourceDescriptor {
    pub(crate) r#type: &'static str,
    pub(crate) display_name: &'static str,
    pub(crate) description: &'static str,
    /// `(key, description)`; every label is a string.
    pub(crate) labels: &'static [(&'static str, &'static str)],
}

const PROJECT: (&str, &str) = (
    "project_id",
    "The identifier of the Google Cloud project associated with this resource.",
);
const LOCATION: (&str, &str) = (
    "location",
    "The physical location of the cluster that contains the resource.",
);
const CLUSTER: (&str, &str) = (
    "cluster_name",
    "The name of the cluster that the resource is running in.",
);
const NAMESPACE: (&str, &str) = (
    "namespace_name",
    "The name of the namespace that the resource is running in.",
);
const POD: (&str, &str) = ("pod_name", "The name of the pod.");

/// Sorted by type, as the API lists them.
pub(crate) const DESCRIPTORS: &[ResourceDescriptor] = &[
    ResourceDescriptor {
        r#type: "cloud_run_revision",
        display_name: "Cloud Run Revision",
        description: "A revision in Cloud Run (fully managed).",
        labels: &[
            PROJECT,
            ("service_name", "The name of the service."),
            ("revision_name", "The name of the revision."),
            ("location", "The region in which the service is running."),
            ("configuration_name", "The name of the configuration."),
        ],
    },
    ResourceDescriptor {
        r#type: "container",
        display_name: "GKE Container",
        description: "A container in a GKE cluster (the legacy type fluentd-gcp images write).",
        labels: &[
            PROJECT,
            ("cluster_name", "The name of the cluster."),
            ("namespace_id", "The namespace of the pod."),
            (
                "instance_id",
                "The id of the VM instance the container runs on.",
            ),
            ("pod_id", "The name of the pod."),
            ("container_name", "The name of the container."),
            ("zone", "The zone of the VM instance."),
        ],
    },
    ResourceDescriptor {
        r#type: "gce_instance",
        display_name: "VM Instance",
        description: "A virtual machine instance hosted in Compute Engine.",
        labels: &[
            PROJECT,
            (
                "instance_id",
                "The numeric VM instance identifier assigned by Compute Engine.",
            ),
            (
                "zone",
                "The Compute Engine zone in which the VM is running.",
            ),
        ],
    },
    ResourceDescriptor {
        r#type: "generic_node",
        display_name: "Generic Node",
        description: "A generic node identifies a machine or other computational resource.",
        labels: &[
            PROJECT,
            ("location", "The region or zone where the node runs."),
            (
                "namespace",
                "A namespace identifier, such as a cluster name.",
            ),
            (
                "node_id",
                "A unique identifier for the node within the namespace.",
            ),
        ],
    },
    ResourceDescriptor {
        r#type: "generic_task",
        display_name: "Generic Task",
        description: "A generic task identifies an application process.",
        labels: &[
            PROJECT,
            ("location", "The region or zone where the task runs."),
            (
                "namespace",
                "A namespace identifier, such as a cluster name.",
            ),
            ("job", "An identifier for a grouping of related tasks."),
            (
                "task_id",
                "A unique identifier for the task within the namespace and job.",
            ),
        ],
    },
    ResourceDescriptor {
        r#type: "global",
        display_name: "Global",
        description: "A global resource: entries that belong to nothing more specific.",
        labels: &[PROJECT],
    },
    ResourceDescriptor {
        r#type: "k8s_cluster",
        display_name: "Kubernetes Cluster",
        description: "A Kubernetes cluster.",
        labels: &[PROJECT, LOCATION, CLUSTER],
    },
    ResourceDescriptor {
        r#type: "k8s_container",
        display_name: "Kubernetes Container",
        description: "A Kubernetes container instance.",
        labels: &[
            PROJECT,
            LOCATION,
            CLUSTER,
            NAMESPACE,
            POD,
            ("container_name", "The name of the container."),
        ],
    },
    ResourceDescriptor {
        r#type: "k8s_node",
        display_name: "Kubernetes Node",
        description: "A Kubernetes node.",
        labels: &[
            PROJECT,
            LOCATION,
            CLUSTER,
            ("node_name", "The name of the node."),
        ],
    },
    ResourceDescriptor {
        r#type: "k8s_pod",
        display_name: "Kubernetes Pod",
        description: "A Kubernetes pod.",
        labels: &[PROJECT, LOCATION, CLUSTER, NAMESPACE, POD],
    },
];

/// One page of descriptors; the token is the hex of the last type listed.
pub(crate) fn list_descriptors(
    size: i32,
    token: &str,
) -> Result<(&'static [ResourceDescriptor], Option<String>), Error> {
    let limit = page_size(size)?;
    let start = match token {
        "" => 0,
        t => {
            let after = unhex(t)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| Error::invalid("pageToken: invalid page token"))?;
            DESCRIPTORS.partition_point(|d| d.r#type <= after.as_str())
        }
    };
    let page = &DESCRIPTORS[start..(start + limit).min(DESCRIPTORS.len())];
    let next = (start + page.len() < DESCRIPTORS.len())
        .then(|| page.last().map(|d| hex(d.r#type.as_bytes())))
        .flatten();
    Ok((page, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_are_sorted_and_page() {
        assert!(DESCRIPTORS.windows(2).all(|w| w[0].r#type < w[1].r#type));
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let (page, next) = list_descriptors(3, &token).unwrap();
            seen.extend(page.iter().map(|d| d.r#type));
            match next {
                Some(t) => token = t,
                None => break,
            }
        }
        assert_eq!(
            seen,
            DESCRIPTORS.iter().map(|d| d.r#type).collect::<Vec<_>>()
        );
        assert!(list_descriptors(0, "xyz").is_err());
    }
}
