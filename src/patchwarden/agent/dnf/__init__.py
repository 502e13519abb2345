"""dnf/yum output the repository check reads: `updateinfo` and `check-update`."""
