//! The nftables ruleset of table `inet sipwarden`, rendered from the firewall policy.
