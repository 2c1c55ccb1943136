"""Tests of your own code against `meshvm fake`, with pytest and only the
standard library: one fake per test, on a free port, read from its ready
file.  Run: MESHVM_BIN=build/meshvm python3 -m pytest test_with_fake.py"""
import json
import os
import subprocess
import tempfile
import time
import urllib.request

import pytest

MESHVM = os.environ.get("MESHVM_BIN", "meshvm")


@pytest.fixture
def fake():
    with tempfile.TemporaryDirectory() as d:
        ready = os.path.join(d, "url")
        proc = subprocess.Popen([MESHVM, "fake", "--no-auth", "--op-polls",
                                 "1", "--ready-file", ready])
        try:
            for _ in range(200):
                if os.path.exists(ready) and os.path.getsize(ready) > 0:
                    break
                time.sleep(0.05)
            with open(ready) as f:
                yield f.readline().strip()
        finally:
            proc.terminate()
            assert proc.wait(timeout=10) == 0


def call(method, url, body=None, ctype="application/json"):
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Content-Type": ctype})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def test_bucket_and_object(fake):
    call("POST", fake + "/storage/v1/b?project=demo", {"name": "my-bucket"})
    call("POST", fake + "/upload/storage/v1/b/my-bucket/o?uploadType=media"
         "&name=hello.txt", b"hello", ctype="text/plain")
    meta = call("GET", fake + "/storage/v1/b/my-bucket/o/hello.txt")
    assert meta["size"] == "5"
    with urllib.request.urlopen(fake + "/storage/v1/b/my-bucket/o/"
                                "hello.txt?alt=media") as r:
        assert r.read() == b"hello"


def test_firewall_operation_and_journal(fake):
    base = fake + "/compute/v1/projects/demo/global"
    op = call("POST", base + "/firewalls",
              {"name": "allow-ssh", "sourceRanges": ["10.0.0.0/8"],
               "allowed": [{"IPProtocol": "tcp", "ports": ["22"]}]})
    done = call("POST", base + "/operations/" + op["name"] + "/wait")
    assert done["status"] == "DONE"
    # the journal tells what your code sent
    with urllib.request.urlopen(fake + "/_fake/journal") as r:
        lines = [json.loads(x) for x in r.read().decode().splitlines()]
    assert [x["method"] for x in lines if x["path"].endswith(
        "/firewalls")] == ["POST"]


def test_fault_injection(fake):
    call("PUT", fake + "/_fake/faults",
         b"rules:\n  - path: /compute/v1/projects/*\n    nth: [1]\n"
         b"    status: 429\n", ctype="application/yaml")
    with pytest.raises(urllib.error.HTTPError) as e:
        call("GET", fake + "/compute/v1/projects/demo")
    assert e.value.code == 429
    assert call("GET", fake + "/compute/v1/projects/demo")["name"] == "demo"
