"""Validate the chart's renders (scripts/validate-deploy.sh): every document against
the official Kubernetes schemas (kubernetes-validate, strict), the ServiceMonitor
against the Prometheus operator CRD's own schema, and what each documented values
combination promises (which objects exist, replay read-only and strict, one recorder).
"""

import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

VERSIONS = ["1.30.0", "1.37.0"]


def docs(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def strict(schema):
    """The CRD schema with unknown fields refused, as the API server's strict field
    validation (kubectl's default) refuses them."""
    if isinstance(schema, dict):
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        for v in schema.values():
            strict(v)
    elif isinstance(schema, list):
        for v in schema:
            strict(v)
    return schema


def crd_schema(path):
    crd = yaml.safe_load(Path(path).read_text())
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return strict(v1["schema"]["openAPIV3Schema"])


def kinds(ds):
    return sorted(d["kind"] for d in ds)


def one(ds, kind):
    found = [d for d in ds if d["kind"] == kind]
    assert len(found) == 1, f"want one {kind}, got {len(found)}"
    return found[0]


def container(workload):
    return workload["spec"]["template"]["spec"]["containers"][0]


def check_replay(ds, name):
    dep = one(ds, "Deployment")
    c = container(dep)
    args = c["args"]
    assert args[0] == "replay" and "--strict" in args, f"{name}: replay is not strict: {args}"
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert dep["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    mount = [m for m in c["volumeMounts"] if m["name"] == "cassettes"][0]
    assert mount.get("readOnly") is True, f"{name}: cassettes are writable"
    shutdown_s = int(args[args.index("--shutdown-timeout-ms") + 1]) / 1000
    grace = dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > shutdown_s, f"{name}: grace {grace}s within the shutdown timeout {shutdown_s}s"
    return dep


def expect(name, ds):
    k = kinds(ds)
    dep = check_replay(ds, name)
    has = lambda kind: kind in k  # noqa: E731
    if name in ("default", "pvc", "image", "record"):
        assert has("ServiceMonitor"), f"{name}: no ServiceMonitor though the operator is present"
    if name in ("default-no-operator", "no-servicemonitor"):
        assert not has("ServiceMonitor"), f"{name}: a ServiceMonitor was rendered"
    if name == "no-hpa":
        assert not has("HorizontalPodAutoscaler") and dep["spec"]["replicas"] == 3
        assert "lifecycle" not in container(dep)
    else:
        assert has("HorizontalPodAutoscaler") and "replicas" not in dep["spec"]
    vol = dep["spec"]["template"]["spec"]["volumes"][0]
    if name == "pvc":
        assert vol["persistentVolumeClaim"] == {"claimName": "shared-cassettes", "readOnly": True}
        env = {e["name"] for e in container(dep)["env"]}
        assert "AIMOCK_CONTROL_TOKEN" in env, "pvc: control token not wired from the Secret"
    elif name == "image":
        assert "emptyDir" in vol
        init = dep["spec"]["template"]["spec"]["initContainers"][0]
        assert init["command"][:2] == ["cp", "-R"], init["command"]
        assert k.count("Secret") == 2, "image: control and api-key Secrets"
    else:
        assert "configMap" in vol
    if name == "record":
        sts = one(ds, "StatefulSet")
        assert sts["spec"]["replicas"] == 1
        assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "2Gi"
        args = container(sts)["args"]
        assert args[0] == "record" and "--provider-openai" in args and "--strict" not in args
    else:
        assert not has("StatefulSet")


def main():
    out, crd = Path(sys.argv[1]), sys.argv[2]
    monitor_schema = crd_schema(crd)
    failures = 0
    for f in sorted(out.glob("*.yaml")):
        name = f.stem
        ds = docs(f)
        for d in ds:
            label = f"{name}: {d['kind']}/{d['metadata']['name']}"
            try:
                if d["apiVersion"] == "monitoring.coreos.com/v1":
                    jsonschema.validate(d, monitor_schema)
                else:
                    for v in VERSIONS:
                        kubernetes_validate.validate(d, v, strict=True)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                failures += 1
                print(f"FAIL {label}: {e}")
        try:
            expect(name, ds)
            print(f"ok   {name}: {', '.join(kinds(ds))}")
        except AssertionError as e:
            failures += 1
            print(f"FAIL {name}: {e}")
    if failures:
        print(f"{failures} failure(s)")
        sys.exit(1)


if __name__ == "__main__":
    main()
