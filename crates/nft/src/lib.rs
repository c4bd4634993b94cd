//! nftables over netlink: tables, chains, sets, maps and rules in atomic batches.
