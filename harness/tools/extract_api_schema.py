#!/usr/bin/env python3
"""Extract the request-body schemas the fake serves from the Google Cloud
SDK's apitools message modules into fixtures/api-schema/*.json.

    python3 harness/tools/extract_api_schema.py [OUT_DIR]

The SDK is found with `gcloud info --format='value(installation.sdk_root)'`
(or $CLOUDSDK_ROOT).  Only the messages reachable from the request bodies of
the methods below are written, so the files stay small; the fake embeds them
at build time and validates every request body against them (unknown
fields, wrong types, bad enum values).

Output format (one file per API, keys sorted, compact):
  {"api": "container", "version": "v1", "proto_package": "google.container.v1",
   "path_style": "snake" | "camel",   # how Google names fields in errors
   "body_root": "" | "resource",      # the body's name in error paths
   "methods": {METHOD_ID: {"http_method", "path", "body"}},
   "messages": {NAME: {FIELD: TYPE}}}
TYPE is {"type": T} with T one of string int32 int64 uint32 uint64 double
float bool bytes enum message map any, plus "repeated": true, "message":
NAME (message), "values": [...] (enum), "value": TYPE (map).
"""
import json
import os
import subprocess
import sys

# The methods the fake serves that take a JSON body, per API.
APIS = [
    {
        "api": "container", "version": "v1",
        "proto_package": "google.container.v1",
        "path_style": "snake", "body_root": "",
        "client": "ContainerV1",
        "methods": [
            ("ProjectsLocationsClustersService", "Create"),
            ("ProjectsZonesClustersService", "Create"),
        ],
    },
    {
        "api": "compute", "version": "v1",
        "proto_package": "google.cloud.compute.v1",
        "path_style": "camel", "body_root": "resource",
        "client": "ComputeV1",
        "methods": [
            ("InstancesService", "Insert"),
            ("InstancesService", "SetMetadata"),
            ("FirewallsService", "Insert"),
            ("FirewallsService", "Patch"),
            ("FirewallsService", "Update"),
            ("InstanceTemplatesService", "Insert"),
            ("InstanceGroupManagersService", "Insert"),
        ],
    },
    {
        "api": "storage", "version": "v1",
        "proto_package": "google.storage.v1",
        "path_style": "camel", "body_root": "resource",
        "client": "StorageV1",
        "methods": [
            ("BucketsService", "Insert"),
        ],
    },
    {
        "api": "cloudresourcemanager", "version": "v3",
        "proto_package": "google.cloud.resourcemanager.v3",
        "path_style": "camel", "body_root": "",
        "client": "CloudresourcemanagerV3",
        "methods": [
            ("ProjectsService", "TestIamPermissions"),
        ],
    },
    {
        "api": "iamcredentials", "version": "v1",
        "proto_package": "google.iam.credentials.v1",
        "path_style": "camel", "body_root": "",
        "client": "IamcredentialsV1",
        "methods": [
            ("ProjectsServiceAccountsService", "GenerateAccessToken"),
        ],
    },
]

VARIANTS = {
    "STRING": "string", "INT32": "int32", "SINT32": "int32",
    "INT64": "int64", "SINT64": "int64", "UINT32": "uint32",
    "UINT64": "uint64", "DOUBLE": "double", "FLOAT": "float",
    "BOOL": "bool", "BYTES": "bytes", "ENUM": "enum",
}


def sdk_root():
    root = os.environ.get("CLOUDSDK_ROOT")
    if root:
        return root
    out = subprocess.run(
        ["gcloud", "info", "--format=value(installation.sdk_root)"],
        check=True, capture_output=True, text=True)
    return out.stdout.strip()


def is_map(cls):
    """apitools spells a JSON map as a message whose only field is a
    repeated additionalProperties of AdditionalProperty{key, value}."""
    fields = list(cls.all_fields())
    return (len(fields) == 1 and fields[0].name == "additionalProperties"
            and fields[0].repeated
            and type(fields[0]).__name__ == "MessageField")


def msg_name(cls):
    # Nested classes (Cluster.ResourceLabelsValue) keep their qualified
    # name so two LabelsValue messages do not collide.
    return cls.__qualname__ if hasattr(cls, "__qualname__") else cls.__name__


def field_type(f, todo):
    kind = type(f).__name__
    if kind == "MessageField":
        cls = f.message_type
        mod = cls.__module__
        name = cls.__name__
        if mod.endswith("extra_types") and name in ("JsonValue", "JsonObject",
                                                    "JsonArray"):
            t = {"type": "any"}
        elif name == "DateTimeMessage" or kind == "DateTimeField":
            t = {"type": "string"}
        elif is_map(cls):
            value = list(list(cls.all_fields())[0].message_type
                         .all_fields())
            vf = [v for v in value if v.name == "value"][0]
            t = {"type": "map", "value": field_type(vf, todo)}
        else:
            todo.append(cls)
            t = {"type": "message", "message": msg_name(cls)}
    elif kind == "DateTimeField":
        t = {"type": "string"}
    elif kind == "DateField":
        t = {"type": "string"}
    elif kind == "EnumField":
        t = {"type": "enum", "values": sorted(f.type.names())}
    else:
        t = {"type": VARIANTS[f.variant.name]}
    if f.repeated and t["type"] != "map":
        t["repeated"] = True
    return t


def extract(spec, root):
    sys.path[:0] = [os.path.join(root, "lib"),
                    os.path.join(root, "lib", "third_party")]
    base = "googlecloudsdk.generated_clients.apis.%s.%s" % (spec["api"],
                                                          spec["version"])
    mod_prefix = "%s_%s" % (spec["api"], spec["version"])
    messages = __import__("%s.%s_messages" % (base, mod_prefix),
                          fromlist=["x"])
    client = __import__("%s.%s_client" % (base, mod_prefix), fromlist=["x"])
    client_cls = getattr(client, spec["client"])
    out = {k: spec[k] for k in ("api", "version", "proto_package",
                                "path_style", "body_root")}
    out["methods"] = {}
    out["messages"] = {}
    todo = []
    for service, method in spec["methods"]:
        cfg = getattr(getattr(client_cls, service), method).method_config()
        req = getattr(messages, cfg.request_type_name)
        if cfg.request_field == "<request>":
            body = req
        else:
            body = req.field_by_name(cfg.request_field).message_type
        out["methods"][cfg.method_id] = {
            "http_method": cfg.http_method,
            "path": cfg.relative_path,
            "body": msg_name(body),
        }
        todo.append(body)
    while todo:
        cls = todo.pop()
        name = msg_name(cls)
        if name in out["messages"]:
            continue
        fields = {}
        for f in sorted(cls.all_fields(), key=lambda x: x.name):
            fields[f.name] = field_type(f, todo)
        out["messages"][name] = fields
    return out


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "fixtures/api-schema"
    root = sdk_root()
    os.makedirs(out_dir, exist_ok=True)
    for spec in APIS:
        doc = extract(spec, root)
        path = os.path.join(out_dir, "%s.json" % spec["api"])
        with open(path + ".tmp", "w") as fh:
            json.dump(doc, fh, sort_keys=True, separators=(",", ":"))
            fh.write("\n")
        os.replace(path + ".tmp", path)
        print("%s: %d methods, %d messages" % (path, len(doc["methods"]),
                                               len(doc["messages"])))


if __name__ == "__main__":
    main()
