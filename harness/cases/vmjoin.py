#!/usr/bin/env python3
"""harness/cases/vmjoin.py - what a VM's sidecar does at its first boot,
for protocol cases that run without `meshvm fake --boot-vms`: read the
token and the address from the instance's metadata server (the fake's
/vm/NAME/computeMetadata/v1), the mesh settings from
.meshvm/identity/cluster.env, and register with the simulated istiod of
the home cluster (its API endpoint in .meshvm/kubeconfig), then report
health; or, with --fail, report the refusal as the join script does
(guest attributes meshvm/phase=failed, meshvm/error=...).

usage: vmjoin.py NAME [--fail] [--advance-ms N]
       vmjoin.py NAME --disconnect   (the VM went away: its sidecar's
                                      connection ends; uses what the
                                      registration saved in vmjoin-NAME.json)
Environment: FAKE_URL, PROJECT_ID.  Prints istiod's answer; exit 0 when
registered, 3 when istiod refused (the answer printed).
"""
import base64
import json
import os
import shlex
import ssl
import sys
import urllib.error
import urllib.request

FAKE = os.environ["FAKE_URL"].rstrip("/")
CTX = None  # TLS to the cluster: its CA from the kubeconfig


def req(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(url, data=data, method=method,
                               headers=headers or {})
    if data is not None:
        r.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(r, timeout=30, context=CTX) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metadata(name, path):
    code, text = req("GET", f"{FAKE}/vm/{name}/computeMetadata/v1/{path}",
                     headers={"Metadata-Flavor": "Google"})
    if code != 200:
        sys.exit(f"vmjoin: metadata {path}: {code} {text}")
    return text


def guest_attr(name, key, value):
    r = urllib.request.Request(
        f"{FAKE}/vm/{name}/computeMetadata/v1/instance/guest-attributes/"
        f"meshvm/{key}", data=value.encode(), method="PUT",
        headers={"Metadata-Flavor": "Google"})
    urllib.request.urlopen(r, timeout=30).read()


def cluster_env():
    env = {}
    with open(".meshvm/identity/cluster.env") as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                env[k] = (shlex.split(v) or [""])[0]
    return env


def istiod_url(cluster):
    import subprocess
    out = subprocess.run(
        ["kubectl", "--kubeconfig", ".meshvm/kubeconfig", "config", "view",
         "--raw", "-o", "json"], check=True, capture_output=True, text=True).stdout
    global CTX
    for c in json.loads(out)["clusters"]:
        if c["name"].endswith("_" + cluster):
            ca = c["cluster"].get("certificate-authority-data")
            if ca:
                CTX = ssl.create_default_context(
                    cadata=base64.b64decode(ca).decode())
            return c["cluster"]["server"].rstrip("/")
    sys.exit(f"vmjoin: no cluster {cluster} in .meshvm/kubeconfig")


def main():
    args = sys.argv[1:]
    name = args[0]
    fail = "--fail" in args
    saved = f"vmjoin-{name}.json"
    if "--disconnect" in args:
        with open(saved) as f:
            s = json.load(f)
        istiod_url(s["env"].get("ISTIO_META_CLUSTER_ID", "cluster1"))
        code, text = req("POST", f"{s['base']}/meshvm/v1/disconnect",
                         {"ip": s["ip"], "env": s["env"]},
                         {"Authorization": "Bearer " + s["token"]})
        print(text)
        sys.exit(0 if code == 200 else 3)
    token = metadata(name, "instance/attributes/meshvm-istio-token")
    ip = metadata(name, "instance/network-interfaces/0/ip")
    env = cluster_env()
    base = istiod_url(env.get("ISTIO_META_CLUSTER_ID", "cluster1"))
    if "--advance-ms" in args:
        ms = args[args.index("--advance-ms") + 1]
        req("POST", f"{FAKE}/_fake/clock?advance_ms={ms}")
    auth = {"Authorization": "Bearer " + token}
    guest_attr(name, "phase", "register")
    code, text = req("POST", f"{base}/meshvm/v1/register",
                     {"ip": ip, "env": env}, auth)
    print(text)
    if code != 200:
        if fail:
            guest_attr(name, "phase", "failed")
            guest_attr(name, "error", f"istiod refused the registration: "
                                      f"{json.loads(text).get('error', text)}")
        sys.exit(3)
    code, text = req("POST", f"{base}/meshvm/v1/health",
                     {"ip": ip, "env": env, "healthy": True,
                      "message": "ready"}, auth)
    if code != 200:
        sys.exit(f"vmjoin: health: {code} {text}")
    guest_attr(name, "phase", "joined")
    with open(saved, "w") as f:  # the test's scratch directory only
        json.dump({"ip": ip, "env": env, "base": base, "token": token}, f)


main()
