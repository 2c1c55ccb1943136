"""gce-read-md.py URL: cloud-init's own GCE reader (DataSourceGCE.read_md,
Debian's cloud-init 22.4) against a metadata server; prints its result as
JSON (user-data decoded).  Run with Debian's /usr/bin/python3."""
import json
import sys

from cloudinit.sources import URLParams
from cloudinit.sources import DataSourceGCE as gce

params = URLParams(max_wait_seconds=10, timeout_seconds=5, num_retries=0,
                   sec_between_retries=0)
ret = gce.read_md(address=sys.argv[1], url_params=params, platform_check=False)
if isinstance(ret.get("user-data"), bytes):
    ret["user-data"] = ret["user-data"].decode("utf-8")
json.dump(ret, sys.stdout, indent=1, sort_keys=True)
print()
