#!/usr/bin/env python3
"""Checks that deploy/compose.yaml and the Kubernetes manifests give every part of the platform what it needs.

    deploy/check-settings.py EC_BINARY COMPOSE_FILE RENDERED_K8S_YAML...

The schemas (the Compose specification, Kubernetes' OpenAPI) say a file is well formed; this says it works:

- every variable set for an `ec` container is one that command reads (`ec <command> --help` lists them), so a
  misspelt name cannot be silently ignored;
- every part gets the settings it cannot run without in production (NEEDED, with the reason for each), and the
  flags its command requires;
- every URL to another part names a host and port where that part listens, and every health check and probe
  asks a port the container listens on;
- Hydra, the BFF and the storefront agree on the issuer, the client and the audience (Compose);
- draining fits in the termination grace period, secrets referenced exist, every Deployment has a
  PodDisruptionBudget and every Ingress path a Service port (Kubernetes).

Run by scripts/check-deploy.sh (part of `make test`); needs PyYAML.
"""

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml

# What each part cannot do without in production, beyond the flags its command requires. The defaults of
# these are for a laptop (loopback addresses, no Redis, no internal secret) or do not exist.
NEEDED = {
    "migrate": {"DATABASE_URL"},
    "user": {
        "DATABASE_URL",
        "INTERNAL_AUTH_TOKEN",  # without it the service trusts no caller identity, so every call is refused
        "REDIS_URL",  # login throttling and token revocations shared with the replicas and the BFF
        "HYDRA_ADMIN_URL",  # without it the login pages are not served
        "USER_ADDR",  # the default binds loopback only
        "LOGIN_ADDR",
    },
    "product": {"DATABASE_URL", "INTERNAL_AUTH_TOKEN", "PRODUCT_ADDR"},
    "order": {"DATABASE_URL", "INTERNAL_AUTH_TOKEN", "ORDER_ADDR", "PRODUCT_SERVICE_URL"},
    "bff": {
        "INTERNAL_AUTH_TOKEN",
        "REDIS_URL",  # rate limits, key cache and revocations shared by the replicas
        "BFF_ADDR",
        "OPS_ADDR",
        "OIDC_ISSUER",  # without it no token is accepted
        "USER_SERVICE_URL",
        "PRODUCT_SERVICE_URL",
        "ORDER_SERVICE_URL",
        "CORS_ALLOWED_ORIGINS",  # the storefront calls the API from its own origin
    },
    "web": {"WEB_ADDR", "PUBLIC_BFF_URL", "OIDC_ISSUER"},
}

# Read by the process but not by its flags.
NOT_FLAGS = {"RUST_LOG", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"}

# Which address variable is which part's, and the URL variables that point at a part.
ADDRESS_OF = {"user": "USER_ADDR", "product": "PRODUCT_ADDR", "order": "ORDER_ADDR", "bff": "BFF_ADDR", "web": "WEB_ADDR"}
URL_TO = {"USER_SERVICE_URL": "user", "PRODUCT_SERVICE_URL": "product", "ORDER_SERVICE_URL": "order"}

failures = []


def fail(where, message):
    failures.append(f"{where}: {message}")


class Command:
    """What `ec <words> --help` says the command reads."""

    cache = {}

    def __init__(self, ec, words):
        text = subprocess.run([ec, *words, "--help"], capture_output=True, text=True, check=True).stdout
        self.env = set(re.findall(r"\[env: ([A-Z0-9_]+)[=\]]", text))
        usage = text.split("Usage:", 1)[1].splitlines()[0]
        required_flags = set(re.findall(r"--([a-z0-9-]+) <", usage))
        self.required = set()
        flag = None
        for line in text.splitlines():
            found = re.match(r"\s+(?:-\w, )?--([a-z0-9-]+)", line)
            if found:
                flag = found.group(1)
            env = re.search(r"\[env: ([A-Z0-9_]+)[=\]]", line)
            if env and flag in required_flags:
                self.required.add(env.group(1))

    @classmethod
    def of(cls, ec, words):
        key = tuple(words)
        if key not in cls.cache:
            cls.cache[key] = cls(ec, words)
        return cls.cache[key]


def part_of(args):
    """`serve user` -> user, `migrate` -> migrate; None for other commands."""
    if args[:1] == ["serve"] and len(args) > 1:
        return args[1], args[:2]
    if args[:1] == ["migrate"]:
        return "migrate", ["migrate"]
    return None, None


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def check_part(ec, where, args, env, own):
    """The checks every `ec` container gets, whatever runs it. `env` is everything it is given, as names and
    values (None: from a secret); `own` the names set for it alone, each of which it must read (a shared
    ConfigMap or the image's defaults carry settings of other parts too)."""
    part, words = part_of(args)
    if part is None:
        fail(where, f"runs `ec {' '.join(args)}`, which is not a part of the platform")
        return None
    command = Command.of(ec, words)
    for name in sorted(set(own) - command.env - NOT_FLAGS):
        fail(where, f"sets {name}, which `ec {' '.join(words)}` does not read")
    for name in sorted((NEEDED[part] | command.required) - set(env)):
        fail(where, f"does not set {name}, which `ec {' '.join(words)}` needs")
    token = env.get("INTERNAL_AUTH_TOKEN")
    if token is not None and len(token) < 32:
        fail(where, "INTERNAL_AUTH_TOKEN is shorter than 32 characters, which the servers refuse")
    return part


# ---------------------------------------------------------------------------------------------------- Compose


def dotenv(path):
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def interpolate(value, variables, where):
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error}, from the .env file beside the Compose file."""

    def one(match):
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if variables.get(name):
            return variables[name]
        if op == ":-":
            return rest
        fail(where, f"${{{name}}} has no value in deploy/.env")
        return ""

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:[-?])([^}]*))?\}", one, str(value))


def image_env(dockerfile):
    """The ENV the Dockerfile's runtime stage sets."""
    text = dockerfile.read_text().split("AS runtime", 1)[1]
    block = re.search(r"^ENV (.*?)(?:\n(?!\s))", text, re.S | re.M).group(1)
    return dict(re.findall(r"([A-Z0-9_]+)=(\S+)", block))


def check_compose(ec, path):
    compose = yaml.safe_load(path.read_text())
    variables = dotenv(path.parent / ".env")
    defaults = image_env(path.parent.parent / "Dockerfile")
    services = compose["services"]
    parts = {}
    for name, service in services.items():
        if not str(service.get("image", "")).startswith("${EC_IMAGE"):
            continue
        where = f"compose service {name}"
        environment = {k: interpolate(v, variables, where) for k, v in (service.get("environment") or {}).items()}
        env = {**defaults, **environment}
        part = check_part(ec, where, service["command"], env, environment)
        if part is None:
            continue
        parts[part] = (name, service, env)
        test = (service.get("healthcheck") or {}).get("test", [])
        if part in ADDRESS_OF:
            listens = port_of(env[ADDRESS_OF[part]])
            checked = [urlparse(word).port for word in test if str(word).startswith("http://")]
            extra = {port_of(env["OPS_ADDR"])} if part == "bff" else set()
            if not checked or checked[0] not in {listens} | extra:
                fail(where, f"its health check {test} does not ask the port it listens on ({listens})")
    for name, service, env in parts.values():
        where = f"compose service {name}"
        for variable, target in URL_TO.items():
            if variable in env and target in parts:
                url = urlparse(env[variable])
                target_name, _, target_env = parts[target]
                if (url.hostname, url.port) != (target_name, port_of(target_env[ADDRESS_OF[target]])):
                    fail(where, f"{variable}={env[variable]} is not where {target} listens")
    check_hydra(path, services, parts, variables)


def check_hydra(path, services, parts, variables):
    """Hydra's configuration, its storefront client, the BFF and the storefront agree."""
    where = "compose: Hydra"
    hydra = yaml.safe_load((path.parent / "compose" / "hydra.yml").read_text())
    bff, web, user = (parts[p][2] for p in ("bff", "web", "user"))
    issuer = hydra["urls"]["self"]["issuer"]
    for part, env in (("bff", bff), ("web", web)):
        if env.get("OIDC_ISSUER") != issuer:
            fail(where, f"the {part}'s OIDC_ISSUER {env.get('OIDC_ISSUER')} is not Hydra's issuer {issuer}")
    if hydra["strategies"]["access_token"] != "jwt":
        fail(where, "access tokens must be JWTs: the BFF verifies them against Hydra's keys")
    if not {"email", "name", "roles"} <= set(hydra["oauth2"]["allowed_top_level_claims"]):
        fail(where, "allowed_top_level_claims must hold email, name and roles: the BFF reads them there")
    login_port = port_of(user["LOGIN_ADDR"])
    for page in ("login", "consent", "logout", "error"):
        url = urlparse(hydra["urls"][page])
        if url.path != f"/oauth2/{page}" or url.port != login_port:
            fail(where, f"urls.{page} {hydra['urls'][page]} is not the user service's /oauth2/{page} page")
    published = [str(p).split(":")[-1] for p in services[parts["user"][0]].get("ports", [])]
    if str(login_port) not in published:
        fail(where, f"the login pages' port {login_port} is not published, so browsers cannot reach them")
    if user.get("HYDRA_ADMIN_URL") != "http://hydra:4445":
        fail(where, "the user service's HYDRA_ADMIN_URL is not Hydra's admin port")
    registration = " ".join(services["hydra-clients"]["command"])
    storefront = web.get("PUBLIC_BFF_URL") and bff["CORS_ALLOWED_ORIGINS"]
    for flag, value in (
        ("--id", web.get("OIDC_CLIENT_ID", "ec-spa")),
        ("--audience", web.get("OIDC_AUDIENCE", "ec-api")),
        ("--allowed-cors-origin", storefront),
        ("--redirect-uri", f"{storefront}/callback"),
    ):
        if f"{flag} {value}" not in registration:
            fail(where, f"the storefront client is not registered with {flag} {value}")
    if bff.get("OIDC_AUDIENCE", "ec-api") != web.get("OIDC_AUDIENCE", "ec-api"):
        fail(where, "the BFF and the storefront disagree on the audience")
    if storefront not in hydra["serve"]["public"]["cors"]["allowed_origins"]:
        fail(where, f"Hydra's public CORS does not allow the storefront's origin {storefront}")


# ------------------------------------------------------------------------------------------------- Kubernetes


def check_kubernetes(ec, documents, source):
    by_kind = {}
    for document in documents:
        if document:
            by_kind.setdefault(document["kind"], []).append(document)
    config = {k: v for c in by_kind.get("ConfigMap", []) for k, v in c.get("data", {}).items()}
    secrets = {s["metadata"]["name"]: set(s.get("data", {})) | set(s.get("stringData", {})) for s in by_kind.get("Secret", [])}
    services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    pdbs = [p["spec"]["selector"]["matchLabels"] for p in by_kind.get("PodDisruptionBudget", [])]
    scaled = {h["spec"]["scaleTargetRef"]["name"] for h in by_kind.get("HorizontalPodAutoscaler", [])}
    listening = {}
    workloads = [(d, d["spec"]["template"]) for d in by_kind.get("Deployment", [])]
    workloads += [(j, j["spec"]["template"]) for j in by_kind.get("Job", [])]
    for workload, template in workloads:
        name = workload["metadata"]["name"]
        where = f"{source}: {workload['kind']} {name}"
        pod = template["spec"]
        for container in pod["containers"]:
            env = {}
            for source_ref in container.get("envFrom", []):
                if "configMapRef" in source_ref:
                    env.update(config)
                if "secretRef" in source_ref:
                    env.update({k: None for k in secrets.get(source_ref["secretRef"]["name"], set())})
            for variable in container.get("env", []):
                reference = variable.get("valueFrom", {}).get("secretKeyRef")
                if reference:
                    if secrets and reference["key"] not in secrets.get(reference["name"], set()):
                        fail(where, f"{variable['name']} refers to {reference['name']}/{reference['key']}, which does not exist")
                    env[variable["name"]] = None
                else:
                    env[variable["name"]] = variable.get("value", "")
            own = {v["name"] for v in container.get("env", [])}
            part = check_part(ec, where, container.get("args", []), env, own)
            if part is None:
                continue
            ports = {p["containerPort"] for p in container.get("ports", [])}
            names = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
            if part in ADDRESS_OF and ADDRESS_OF[part] in env and env[ADDRESS_OF[part]]:
                listens = port_of(env[ADDRESS_OF[part]])
                listening[workload["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]] = (part, names)
                if listens not in ports:
                    fail(where, f"listens on {listens}, which is not among its container ports {sorted(ports)}")
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                if workload["kind"] != "Deployment":
                    continue
                spec = container.get(probe)
                if not spec:
                    fail(where, f"has no {probe}")
                    continue
                port = (spec.get("grpc") or spec.get("httpGet") or {}).get("port")
                port = names.get(port, port)
                if port not in ports:
                    fail(where, f"its {probe} asks port {port}, which it does not listen on")
            if workload["kind"] == "Deployment":
                grace = pod.get("terminationGracePeriodSeconds", 30)
                pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
                drain = int(env.get("SHUTDOWN_GRACE_SECS") or 10)
                if pre_stop + drain >= grace:
                    fail(where, f"preStop {pre_stop} s + SHUTDOWN_GRACE_SECS {drain} s does not fit in {grace} s")
                labels = template["metadata"]["labels"]
                if not any(all(labels.get(k) == v for k, v in pdb.items()) for pdb in pdbs):
                    fail(where, "has no PodDisruptionBudget")
            for variable, target in URL_TO.items():
                if variable in env and env[variable]:
                    url = urlparse(env[variable])
                    service = services.get(url.hostname)
                    if service is None:
                        fail(where, f"{variable}={env[variable]}: there is no Service {url.hostname}")
                        continue
                    if not any(p["port"] == url.port for p in service["spec"]["ports"]):
                        fail(where, f"{variable}={env[variable]}: Service {url.hostname} has no port {url.port}")
    for name, service in services.items():
        selected = service["spec"]["selector"].get("app.kubernetes.io/name")
        if selected in listening:
            _, names = listening[selected]
            for port in service["spec"]["ports"]:
                target = names.get(port["targetPort"], port["targetPort"])
                if target not in names.values():
                    fail(f"{source}: Service {name}", f"targets port {port['targetPort']}, which {selected} does not listen on")
    for ingress in by_kind.get("Ingress", []):
        for rule in ingress["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"]["service"]
                service = services.get(backend["name"])
                port = backend["port"].get("name", backend["port"].get("number"))
                if service is None or not any(port in (p.get("name"), p["port"]) for p in service["spec"]["ports"]):
                    fail(f"{source}: Ingress {ingress['metadata']['name']}", f"{rule['host']} goes to {backend}, which no Service serves")
    if "ec-bff" not in scaled:
        fail(source, "the BFF has no HorizontalPodAutoscaler")


def main():
    ec, compose, rendered = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    check_compose(ec, compose)
    for path in rendered:
        check_kubernetes(ec, list(yaml.safe_load_all(Path(path).read_text())), Path(path).name)
    for failure in failures:
        print(f"FAIL {failure}")
    if failures:
        sys.exit(1)
    print(f"settings: compose and {len(rendered)} Kubernetes renderings give every part what it needs")


if __name__ == "__main__":
    main()
