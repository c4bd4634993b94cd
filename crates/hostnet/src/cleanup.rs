//! Finding and removing the links and named network namespaces a crashed ferry left.

use crate::{Error, Netlink};

/// What [`cleanup_leftovers`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Leftovers {
    pub links: Vec<String>,
    pub namespaces: Vec<String>,
}

/// Deletes every link whose name starts with `prefix` in `netlink`'s namespace and every named
/// network namespace whose name starts with `prefix`. Choose the prefix so that it matches
/// nothing else: named namespaces are shared by every namespace of the machine.
pub async fn cleanup_leftovers(netlink: &Netlink, prefix: &str) -> Result<Leftovers, Error> {
    Ok(Leftovers {
        links: cleanup_links(netlink, prefix).await?,
        namespaces: cleanup_namespaces(prefix)?,
    })
}

/// Deletes every link whose name starts with `prefix` in `netlink`'s namespace; returns the
/// deleted names (a veth whose peer went with an earlier deletion is not listed twice).
pub async fn cleanup_links(netlink: &Netlink, prefix: &str) -> Result<Vec<String>, Error> {
    check_prefix(prefix)?;
    let mut deleted = Vec::new();
    for name in netlink.link_names().await? {
        if name.starts_with(prefix) && netlink.delete_link(&name).await? {
            deleted.push(name);
        }
    }
    Ok(deleted)
}

/// Deletes every named network namespace whose name starts with `prefix`; returns their names.
pub fn cleanup_namespaces(prefix: &str) -> Result<Vec<String>, Error> {
    check_prefix(prefix)?;
    let mut deleted = Vec::new();
    for name in crate::netns_names()? {
        if name.starts_with(prefix) {
            crate::delete_netns(&name)?;
            deleted.push(name);
        }
    }
    Ok(deleted)
}

fn check_prefix(prefix: &str) -> Result<(), Error> {
    if prefix.is_empty() {
        return Err(Error::EmptyPrefix);
    }
    Ok(())
}
