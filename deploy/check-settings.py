#!/usr/bin/env python3
"""Checks that deploy/compose.yaml and the Kubernetes manifests give every part of the platform what it needs.

    deploy/check-settings.py EC_BINARY COMPOSE_FILE RENDERED_K8S_YAML...

The schemas (the Compose specification, Kubernetes' OpenAPI) say a file is well formed; this says it works:

- every variable set for an `ec` container is one that command reads (`ec <command> --help` lists them), so a
  misspelt name cannot be silently ignored;
- every part gets the settings it cannot run without in production (NEEDED, with the reason for each), and the
  flags its command requires;
- every URL to another part names a host and port where that part listens, and every health check and probe
  asks a port the container listens on; the links the user service mails (STOREFRONT_URL, LOGIN_PUBLIC_URL)
  lead where browsers reach the storefront and the login pages (a published port in Compose, an Ingress host
  in Kubernetes), and Compose's SMTP_URL names a service of the file, on a port it exposes;
- Hydra, the BFF and the storefront agree on the issuer, the client, its scopes and the audience (Compose, and
  each Kubernetes overlay's storefront-client.json);
- environments: Compose is a staging trial (EC_ENV is not production there), Kubernetes is production
  (EC_ENV=production, the order service is not left with the payment sandbox, the user service's mail
  settings are ones production accepts: SMTP with TLS, a sender other than @localhost, https:// login pages;
  and no part sets a development-only setting, WEBHOOKS_ALLOW_PRIVATE);
- Redis and NATS: every REDIS_URL and NATS_URL names a user and a password (Compose's Redis has that ACL user,
  and its health check authenticates; Compose's NATS has that user and password, JetStream on, its store in a
  volume, and a health check that asks for JetStream); in Kubernetes credentials (these, the database's and
  the SMTP server's URLs, the internal token) come from a Secret, never a ConfigMap;
- trusted proxies are narrow (no private range whole: any pod in it could forge X-Forwarded-For);
- draining fits in the termination grace period, secrets referenced exist, every Deployment has a
  PodDisruptionBudget and every Ingress path a Service port (Kubernetes);
- the network policies (Kubernetes), evaluated as Kubernetes does on pods made from the rendered labels and the
  charts' labels: default-deny ingress and egress; every part has an egress policy of its own and may connect
  to exactly what its settings name (and DNS, and the trace collector), outside the cluster too (the SMTP
  server of SMTP_URL, on the submission ports only; webhook receivers, on 443 only, from a part that delivers
  webhooks; an S3 picture store, on 443 only, from a part that reads MEDIA_STORE); every port of every part is
  reachable
  from exactly who needs it (the public ports from the ingress controller only, /metrics from Prometheus), and
  so is every port of the stores the parts' settings name in the platform's namespace (PostgreSQL, Redis,
  NATS); Hydra's admin port only from the user service, wherever Hydra's namespace is.

Run by scripts/check-deploy.sh (part of `make test`); needs PyYAML.
"""

import base64
import ipaddress
import json
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
        "NATS_URL",  # without it its events reach only its own process (production refuses to start)
        "HYDRA_ADMIN_URL",  # without it the login pages are not served
        "USER_ADDR",  # the default binds loopback only
        "LOGIN_ADDR",
        "SMTP_URL",  # without it no customer receives a message (production refuses to start)
        "MAIL_FROM",  # the default, shop@localhost, is no address customers can answer (production refuses it)
        "LOGIN_PUBLIC_URL",  # password-reset links point there; the default is loopback (production refuses it)
        "STOREFRONT_URL",  # the messages' links to orders point there; the default is loopback
    },
    "product": {
        "DATABASE_URL",
        "INTERNAL_AUTH_TOKEN",
        "PRODUCT_ADDR",
        "NATS_URL",  # without it its events reach only its own process (production refuses to start)
    },
    "order": {
        "DATABASE_URL",
        "INTERNAL_AUTH_TOKEN",
        "ORDER_ADDR",
        "PRODUCT_SERVICE_URL",
        "NATS_URL",  # without it its events reach only its own process (production refuses to start)
    },
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
    "web": {"WEB_ADDR", "PUBLIC_BFF_URL", "OIDC_ISSUER", "LOGIN_PUBLIC_URL"},
}

# Parts whose command reads no EC_ENV: the migration runs the same everywhere, the storefront serves files.
WITHOUT_ENVIRONMENT = {"migrate", "web"}

# Read by the process but not by its flags.
NOT_FLAGS = {"RUST_LOG", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"}
# The picture store's client reads the standard AWS_* variables (credentials, region, endpoint) beside
# MEDIA_STORE: a part whose command reads MEDIA_STORE reads them too.
READS_AWS = "MEDIA_STORE"

# Which address variable is which part's, and the URL variables that point at a part.
ADDRESS_OF = {"user": "USER_ADDR", "product": "PRODUCT_ADDR", "order": "ORDER_ADDR", "bff": "BFF_ADDR", "web": "WEB_ADDR"}
URL_TO = {"USER_SERVICE_URL": "user", "PRODUCT_SERVICE_URL": "product", "ORDER_SERVICE_URL": "order"}

# Settings that are credentials, or carry one: Kubernetes gives them from a Secret only.
CREDENTIALS = {"DATABASE_URL", "REDIS_URL", "NATS_URL", "SMTP_URL", "INTERNAL_AUTH_TOKEN"}

# Settings for development only, never set in Kubernetes (production), with the reason.
DEVELOPMENT_ONLY = {
    "WEBHOOKS_ALLOW_PRIVATE": "webhooks to private addresses and http:// URLs are for development (production "
    "refuses true at start-up, and false is its default)",
}

# The stores that refuse clients without the platform's user and password, which their URL must name: its form.
AUTHENTICATED = {"REDIS_URL": "redis://USER:PASSWORD@HOST:PORT", "NATS_URL": "nats://USER:PASSWORD@HOST:PORT"}

# The links the user service mails: the setting, the part browsers reach there, and the path of such a link.
MAILED_LINKS = {"STOREFRONT_URL": ("web", "/orders/"), "LOGIN_PUBLIC_URL": ("user", "/oauth2/password/reset")}
# The address each part's public port listens on: the user service's is the login pages'.
PUBLIC_ADDRESS_OF = {**ADDRESS_OF, "user": "LOGIN_ADDR"}

# The scopes the storefront client must be allowed: sign-in and refresh, then shopping (carts, orders, the
# account) and the back office's admin operations.
STOREFRONT_SCOPES = {"openid", "offline_access", "shop", "backoffice"}

# The widest trusted-proxy range accepted: an ingress controller's nodes' pod CIDRs or its addresses, never a
# cluster's whole range (whoever connects from a trusted address chooses the client address the limits see).
NARROWEST_PREFIX = {4: 24, 6: 64}
PRIVATE_WHOLE = ["0.0.0.0/0", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::/0", "fc00::/7"]

failures = []


def fail(where, message):
    failures.append(f"{where}: {message}")


class Command:
    """What `ec <words> --help` says the command reads, requires and defaults to."""

    cache = {}

    def __init__(self, ec, words):
        text = subprocess.run([ec, *words, "--help"], capture_output=True, text=True, check=True).stdout
        self.env = set(re.findall(r"\[env: ([A-Z0-9_]+)[=\]]", text))
        usage = text.split("Usage:", 1)[1].splitlines()[0]
        required_flags = set(re.findall(r"--([a-z0-9-]+) <", usage))
        self.required = set()
        self.defaults = {}
        flag = env_name = None
        for line in text.splitlines():
            found = re.match(r"\s+(?:-\w, )?--([a-z0-9-]+)", line)
            if found:
                flag, env_name = found.group(1), None
            env = re.search(r"\[env: ([A-Z0-9_]+)[=\]]", line)
            if env:
                env_name = env.group(1)
                if flag in required_flags:
                    self.required.add(env_name)
            default = re.search(r"\[default: ([^\]]*)\]", line)
            if default and env_name:
                self.defaults[env_name] = default.group(1)

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
    aws = {name for name in own if name.startswith("AWS_")} if READS_AWS in command.env else set()
    for name in sorted(set(own) - command.env - NOT_FLAGS - aws):
        fail(where, f"sets {name}, which `ec {' '.join(words)}` does not read")
    for name in sorted((NEEDED[part] | command.required) - set(env)):
        fail(where, f"does not set {name}, which `ec {' '.join(words)}` needs")
    token = env.get("INTERNAL_AUTH_TOKEN")
    if token is not None and len(token) < 32:
        fail(where, "INTERNAL_AUTH_TOKEN is shorter than 32 characters, which the servers refuse")
    check_trusted_proxies(where, env, command.env)
    return part


def setting(ec, args, env, name):
    """The value a part runs with: its own, or its command's default (None for neither, or a secret)."""
    _, words = part_of(args)
    if name in env:
        return env[name]
    return Command.of(ec, words).defaults.get(name)


def check_authenticated_url(where, variable, url):
    """Redis and NATS refuse clients without the platform's user and password: the URL must name both."""
    parsed = urlparse(url)
    if not parsed.username or not parsed.password:
        fail(where, f"{variable} {parsed.scheme}://{parsed.hostname}:{parsed.port} names no user and password ({AUTHENTICATED[variable]})")
    return parsed


def check_trusted_proxies(where, env, reads):
    for name in sorted({"TRUSTED_PROXIES", "LOGIN_TRUSTED_PROXIES", "WEB_TRUSTED_PROXIES"} & reads):
        for entry in filter(None, (e.strip() for e in (env.get(name) or "").split(","))):
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                fail(where, f"{name}: {entry!r} is neither an address nor a CIDR range")
                continue
            if str(network) in PRIVATE_WHOLE:
                fail(where, f"{name} trusts {network} whole: any pod or host in it could forge X-Forwarded-For")
            elif network.prefixlen < NARROWEST_PREFIX[network.version]:
                fail(
                    where,
                    f"{name} trusts {network}, wider than a /{NARROWEST_PREFIX[network.version]}: trust the ingress "
                    "controller's pod CIDR or addresses only",
                )


def storefront_scopes_missing(scopes):
    return sorted(STOREFRONT_SCOPES - set(scopes))


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
        # A single-host trial: staging allows the sandbox and deploy/.env's development secrets, which
        # production refuses (the image's default is production).
        if part not in WITHOUT_ENVIRONMENT and env.get("EC_ENV", "production") == "production":
            fail(where, "runs with EC_ENV=production; Compose is a staging trial: set EC_ENV: staging")
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
        stores = (("REDIS_URL", check_compose_redis), ("NATS_URL", check_compose_nats), ("SMTP_URL", check_compose_smtp))
        for variable, check_store in stores:
            if not env.get(variable):
                continue
            if variable in AUTHENTICATED:
                url = check_authenticated_url(where, variable, env[variable])
                if not (url.username and url.password):
                    continue
            else:
                url = urlparse(env[variable])
            check_store(where, url, services, variables)
        for variable, (target, _) in MAILED_LINKS.items():
            if env.get(variable) and target in parts:
                check_compose_link(where, variable, env[variable], target, parts[target])
    check_hydra(path, services, parts, variables)


def container_ports(service):
    """The ports a Compose service exposes to the other services (`expose`, and the container's side of
    `ports`), and those it publishes on the host, as {host port: container port}."""
    exposed, published = set(), {}
    for entry in service.get("expose", []):
        exposed.add(int(str(entry).split("/")[0]))
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            target, host = int(entry["target"]), entry.get("published")
        else:
            *addresses, target = str(entry).split("/")[0].rsplit(":", 2)
            target, host = int(target), (addresses[-1] if addresses else None)
        exposed.add(target)
        if host:
            published[int(host)] = target
    return exposed, published


def check_compose_smtp(where, url, services, variables):
    """The mail server a part names is a service of this file (the mail catcher), on a port it exposes."""
    server = services.get(url.hostname)
    if server is None:
        fail(where, f"SMTP_URL names {url.hostname}, which is not a Compose service")
        return
    port, (exposed, _) = url.port or default_port(url), container_ports(server)
    if port not in exposed:
        fail(where, f"SMTP_URL names port {port}, which {url.hostname} does not expose ({sorted(exposed)})")


def check_compose_link(where, variable, value, target, served):
    """A link the user service mails leads, from a browser on the host running Compose, to the part it names
    (`target`, run by `served`, a Compose service): localhost, on a port published to the one it listens on."""
    name, service, env = served
    url, listens = urlparse(value), port_of(env[PUBLIC_ADDRESS_OF[target]])
    _, published = container_ports(service)
    if url.hostname not in ("localhost", "127.0.0.1") or published.get(url.port or default_port(url)) != listens:
        fail(where, f"{variable}={value} is not where browsers reach {name} (localhost, on the port published to its {listens})")


def check_compose_redis(where, url, services, variables):
    """The Redis a part names has the user and password it names, refuses everyone else, and its health check
    authenticates (redis-cli exits 0 on an error reply unless told otherwise, so a check without -e passes
    whatever Redis answers)."""
    redis = services.get(url.hostname)
    if redis is None:
        fail(where, f"REDIS_URL names {url.hostname}, which is not a Compose service")
        return
    words = [interpolate(w, variables, f"compose service {url.hostname}") for w in redis.get("command", [])]
    users, current = {}, None
    for word in words:
        if word == "--user":
            current = []
            users[len(users)] = current
        elif word.startswith("--"):
            current = None
        elif current is not None:
            current.append(word)
    rules = {u[0]: u[1:] for u in users.values() if u}
    if "off" not in rules.get("default", []):
        fail(f"compose service {url.hostname}", "the passwordless `default` user is not switched off (--user default off)")
    if "on" not in rules.get(url.username, []) or f">{url.password}" not in rules.get(url.username, []):
        fail(where, f"Redis has no ACL user {url.username} with the password REDIS_URL names (--user {url.username} on >PASSWORD ...)")
    test = [str(w) for w in (redis.get("healthcheck") or {}).get("test", [])]
    environment = {k: interpolate(v, variables, where) for k, v in (redis.get("environment") or {}).items()}
    authenticated = "-e" in test and (
        ("--user" in test and test[test.index("--user") + 1] == url.username and environment.get("REDISCLI_AUTH") == url.password)
        or any(w.startswith("redis://") and urlparse(w).password == url.password for w in test)
    )
    if not authenticated:
        fail(f"compose service {url.hostname}", f"its health check {test} does not sign in as {url.username} and fail on an error reply (-e)")


def check_compose_nats(where, url, services, variables):
    """The NATS a part names listens where the URL says, with JetStream (the relays publish to its streams) and
    its store on a volume (events that left an outbox live only there), answers only the user and password the
    URL names, and its health check asks for JetStream on the monitoring port."""
    nats = services.get(url.hostname)
    if nats is None:
        fail(where, f"NATS_URL names {url.hostname}, which is not a Compose service")
        return
    here = f"compose service {url.hostname}"
    words = [interpolate(w, variables, here) for w in nats.get("command", [])]

    def flag(*names):
        found = [words[i + 1] for i, w in enumerate(words[:-1]) if w in names]
        return found[-1] if found else None

    port, named = int(flag("-p", "--port") or 4222), url.port or default_port(url)
    if named != port:
        fail(where, f"NATS_URL names port {named}, where {url.hostname} does not listen ({port})")
    if flag("--user") != url.username or flag("--pass") != url.password:
        fail(here, f"NATS has no user {url.username} with the password NATS_URL names (--user {url.username} --pass PASSWORD)")
    if {"-js", "--jetstream"}.isdisjoint(words):
        fail(here, "JetStream is off (--jetstream): the relays publish to its streams")
    store = flag("-sd", "--store_dir")
    volumes = [str(v).split(":") for v in nats.get("volumes", []) if isinstance(v, str)]
    if store is None or not any(len(v) > 1 and v[1] == store and not v[0].startswith((".", "/")) for v in volumes):
        fail(here, f"JetStream's store ({store or 'no --store_dir'}) is not on a named volume: a new container would lose the events")
    test = [str(w) for w in (nats.get("healthcheck") or {}).get("test", [])]
    monitor = flag("-m", "--http_port")
    checked = [urlparse(w) for w in test if w.startswith("http://")]
    if not monitor or not any(u.port == int(monitor) and u.path == "/healthz" and "js-enabled-only=true" in u.query for u in checked):
        fail(here, f"its health check {test} does not ask the monitoring port (--http_port) for /healthz?js-enabled-only=true")


def registration_flags(command):
    """The flags of the storefront's registration (hydra create/update oauth2-client), each with its values."""
    flags = {}
    words = " ".join(command).replace(";", " ").split()
    for i, word in enumerate(words):
        if word.startswith("--") and i + 1 < len(words) and not words[i + 1].startswith("--"):
            flags.setdefault(word, []).extend(words[i + 1].split(","))
    return flags


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
    for page in ("login", "registration", "consent", "logout", "error"):
        url = urlparse(hydra["urls"][page])
        if url.path != f"/oauth2/{page}" or url.port != login_port:
            fail(where, f"urls.{page} {hydra['urls'][page]} is not the user service's /oauth2/{page} page")
    published = [str(p).split(":")[-1] for p in services[parts["user"][0]].get("ports", [])]
    if str(login_port) not in published:
        fail(where, f"the login pages' port {login_port} is not published, so browsers cannot reach them")
    if user.get("HYDRA_ADMIN_URL") != "http://hydra:4445":
        fail(where, "the user service's HYDRA_ADMIN_URL is not Hydra's admin port")
    flags = registration_flags(services["hydra-clients"]["command"])
    storefront = web.get("PUBLIC_BFF_URL") and bff["CORS_ALLOWED_ORIGINS"]
    for flag, value in (
        ("--id", web.get("OIDC_CLIENT_ID", "ec-spa")),
        ("--audience", web.get("OIDC_AUDIENCE", "ec-api")),
        ("--allowed-cors-origin", storefront),
        ("--redirect-uri", f"{storefront}/callback"),
        # The silent sign-in after a reload, in a new tab and to renew tokens (web/src/auth.ts).
        ("--redirect-uri", f"{storefront}/silent-callback.html"),
        # web/src/auth.ts comes back to /callback after signing out too.
        ("--post-logout-callback", f"{storefront}/callback"),
    ):
        if value not in flags.get(flag, []):
            fail(where, f"the storefront client is not registered with {flag} {value}")
    if web.get("LOGIN_PUBLIC_URL") != user.get("LOGIN_PUBLIC_URL"):
        fail(where, "the storefront's LOGIN_PUBLIC_URL (framed by its silent sign-in) is not the login pages'")
    missing = storefront_scopes_missing(flags.get("--scope", []))
    if missing:
        fail(where, f"the storefront client is not allowed the scopes {' '.join(missing)} (--scope)")
    if bff.get("OIDC_AUDIENCE", "ec-api") != web.get("OIDC_AUDIENCE", "ec-api"):
        fail(where, "the BFF and the storefront disagree on the audience")
    if storefront not in hydra["serve"]["public"]["cors"]["allowed_origins"]:
        fail(where, f"Hydra's public CORS does not allow the storefront's origin {storefront}")


# ----------------------------------------------------------------------------------------- Network policies


def selects(selector, labels):
    """Whether a label selector selects these labels (an empty selector selects everything)."""
    if selector is None:
        return True
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


class Pod:
    """A pod as network policies see it: its namespace, its labels, its named ports."""

    def __init__(self, name, namespace, labels, ports=None):
        self.name, self.namespace, self.labels, self.ports = name, namespace, dict(labels), dict(ports or {})

    def __repr__(self):
        return self.name


class Policies:
    """The rendered NetworkPolicies, evaluated as Kubernetes does: a pod selected by no policy of a direction is
    open in that direction; otherwise a connection passes if any rule of any policy selecting it admits it. An
    ipBlock peer admits any host outside the cluster (OUTSIDE: its address is not known here), and is taken to
    admit any pod too (it may hold any pod address) unless it excepts every private range (POD_RANGES), where
    the cluster's pods and Services are taken to have their addresses; only an ipBlock admits OUTSIDE."""

    def __init__(self, documents, platform):
        self.platform = platform
        self.policies = [(d["metadata"].get("namespace") or platform, d["metadata"]["name"], d["spec"]) for d in documents]
        self.namespace_labels = {}

    def labels_of(self, namespace):
        return {"kubernetes.io/metadata.name": namespace, **self.namespace_labels.get(namespace, {})}

    @staticmethod
    def types(spec):
        return spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))

    def selecting(self, pod, direction):
        return [
            (namespace, name, spec)
            for namespace, name, spec in self.policies
            if namespace == pod.namespace and direction in self.types(spec) and selects(spec.get("podSelector") or {}, pod.labels)
        ]

    def peer_admits(self, peer, namespace, pod):
        if pod.namespace is None:  # outside the cluster
            return "ipBlock" in peer
        if "ipBlock" in peer:
            block = ipaddress.ip_network(peer["ipBlock"]["cidr"], strict=False)
            excepted = [ipaddress.ip_network(e, strict=False) for e in peer["ipBlock"].get("except") or []]
            return any(
                r.version == block.version and r.overlaps(block) and not any(e.version == r.version and r.subnet_of(e) for e in excepted)
                for r in POD_RANGES
            )
        if "namespaceSelector" in peer:
            in_namespace = selects(peer["namespaceSelector"], self.labels_of(pod.namespace))
        else:
            in_namespace = pod.namespace == namespace
        return in_namespace and selects(peer.get("podSelector"), pod.labels)

    @staticmethod
    def port_admits(ports, port, protocol, destination):
        if not ports:
            return True
        for entry in ports:
            if entry.get("protocol", "TCP") != protocol:
                continue
            given = entry.get("port")
            given = destination.ports.get(given, given) if isinstance(given, str) else given
            if given is None or given == port or (entry.get("endPort") and given <= port <= entry["endPort"]):
                return True
        return False

    def admits(self, direction, pod, other, port, protocol, destination):
        selecting = self.selecting(pod, direction)
        if not selecting:
            return True
        rules, peers = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        for namespace, _, spec in selecting:
            for rule in spec.get(rules) or []:
                if not self.port_admits(rule.get("ports"), port, protocol, destination):
                    continue
                if not rule.get(peers) or any(self.peer_admits(p, namespace, other) for p in rule[peers]):
                    return True
        return False

    def ingress(self, destination, source, port, protocol="TCP"):
        return self.admits("Ingress", destination, source, port, protocol, destination)

    def egress(self, source, destination, port, protocol="TCP"):
        return self.admits("Egress", source, destination, port, protocol, destination)


# The pods the platform calls but does not run, labelled as their charts label them (the base's policies
# select them so), by the setting whose URL names them.
EXTERNAL_LABELS = {
    "DATABASE_URL": ("postgresql", {"app.kubernetes.io/name": "postgresql"}),
    "REDIS_URL": ("redis", {"app.kubernetes.io/name": "redis"}),
    "NATS_URL": ("nats", {"app.kubernetes.io/name": "nats"}),
    "HYDRA_ADMIN_URL": ("hydra", {"app.kubernetes.io/name": "hydra"}),
    "OIDC_JWKS_URL": ("hydra", {"app.kubernetes.io/name": "hydra"}),
    "OTEL_EXPORTER_OTLP_ENDPOINT": ("otel-collector", {"app.kubernetes.io/name": "opentelemetry-collector"}),
    # The mail provider, outside the cluster (no labels): only an ipBlock reaches it (OUTSIDE).
    "SMTP_URL": ("smtp", None),
}
# Where a secret's URL points when the render has no Secret to read it from (the base): as secrets.env.example.
SECRET_DEFAULTS = {
    "DATABASE_URL": "postgres://postgresql:5432/ec",
    "REDIS_URL": "redis://redis-master:6379",
    "NATS_URL": "nats://nats:4222",
    "SMTP_URL": "smtps://smtp.example.com:465",
}
# (tls:// is NATS's, with TLS; smtp:// with STARTTLS is on 587, default_port.)
DEFAULT_PORTS = {
    "postgres": 5432, "postgresql": 5432, "redis": 6379, "nats": 4222, "tls": 4222, "http": 80, "https": 443,
    "smtp": 25, "smtps": 465,
}
# The SMTP server's submission ports, TLS (smtps://) and STARTTLS (smtp://...?tls=required): a policy to it opens
# both, since SMTP_URL, a secret, may name either where the render does not see it (a real secrets.env).
SUBMISSION_PORTS = {465, 587}
# Webhook receivers, outside the cluster: a part that delivers webhooks (its command reads WEBHOOKS_TIMEOUT_SECS)
# POSTs to https:// URLs the shop's admins register, which no setting names, so its policy opens the port of an
# https:// URL that names none (a receiver on another port needs the policy widened).
DELIVERS_WEBHOOKS = "WEBHOOKS_TIMEOUT_SECS"
WEBHOOK_PORT = DEFAULT_PORTS["https"]
# Who else a store admits, though no part's setting names it: Hydra's database is on the platform's PostgreSQL.
STORE_CLIENTS = {"postgresql": {"hydra"}}
DNS = Pod("kube-dns", "kube-system", {"k8s-app": "kube-dns"})
PROMETHEUS = Pod("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"})
COLLECTOR = Pod("otel-collector (monitoring)", "monitoring", {"app.kubernetes.io/name": "opentelemetry-collector"})
# Any host outside the cluster (no namespace): the SMTP server a part names there, a webhook receiver, or
# anything else.
OUTSIDE = Pod("a server outside the cluster", None, {})
# Where the cluster's pods and Services are taken to have their addresses (Policies): the private ranges.
POD_RANGES = [ipaddress.ip_network(r) for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]
# Every port a check tries, whether anything listens there or not.
PROBED_PORTS = [(53, "UDP"), (53, "TCP")] + [
    (p, "TCP")
    for p in (25, 80, 443, 465, 587, 4222, 4317, 4318, 4444, 4445, 5173, 5432, 6222, 6379, 8051, 8080, 8090, 8222, 26379, 50051, 50052, 50053)
]


def default_port(url):
    """The port a URL names when it names none: its scheme's, and for smtp:// with TLS (STARTTLS) the submission
    port, as the user service's SMTP client takes it."""
    if url.scheme == "smtp" and re.search(r"(^|&)tls=(required|opportunistic)(&|$)", url.query):
        return 587
    return DEFAULT_PORTS.get(url.scheme)


def cluster_host(host, here):
    """`svc`, `svc.ns`, `svc.ns.svc[.cluster.local]` -> (svc, ns); None for a name outside the cluster."""
    parts = host.split(".")
    if len(parts) == 1:
        return parts[0], here
    if len(parts) == 2 or parts[2] == "svc":
        return parts[0], parts[1]
    return None


def check_network_policies(source, documents, workloads, services, platform, secrets):
    """`documents`: the rendering's by kind; `workloads`: (kind, name, pod, env, command, annotations) of every
    ec container, `pod` its Pod; `secrets`: the values of the rendered Secrets."""
    policies = Policies(documents["NetworkPolicy"], platform)
    for namespace in documents["Namespace"]:
        policies.namespace_labels[namespace["metadata"]["name"]] = namespace["metadata"].get("labels", {})
    where = f"{source}: network policies"

    for direction in ("Ingress", "Egress"):
        rules = direction.lower()
        if not any(
            ns == platform and not (spec.get("podSelector") or {}) and direction in Policies.types(spec) and not spec.get(rules)
            for ns, _, spec in policies.policies
        ):
            fail(where, f"no default-deny {rules} policy (podSelector {{}}, policyTypes [{direction}], no rules)")

    ec_pods = {name: pod for _, name, pod, _, _, _ in workloads}

    # Who the ingress controller is: the only peer the public ports admit.
    public = {}  # (pod name, port)
    for _, name, pod, env, _, _ in workloads:
        for variable in ("BFF_ADDR", "LOGIN_ADDR", "WEB_ADDR"):
            if env.get(variable):
                public[(name, port_of(env[variable]))] = pod
    controllers = []
    for ns, name, spec in policies.policies:
        for rule in spec.get("ingress") or []:
            ports = {p.get("port") for p in rule.get("ports") or []}
            if ns == platform and any(port in ports for _, port in public):
                for peer in rule.get("from") or [{}]:
                    namespace = (peer.get("namespaceSelector") or {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                    labels = (peer.get("podSelector") or {}).get("matchLabels") or {}
                    if not namespace or not labels or set(peer) != {"namespaceSelector", "podSelector"}:
                        fail(
                            where,
                            f"{name} opens the public ports to {peer or 'anyone'}: only the ingress controller's pods "
                            "(a namespaceSelector by kubernetes.io/metadata.name and a podSelector by label)",
                        )
                    else:
                        controllers.append(Pod(f"the ingress controller ({namespace})", namespace, labels))
    controller = controllers[0] if controllers else Pod("the ingress controller", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})

    # What each part connects to, from its settings: (the pod, port, protocol, why).
    external = {}
    needs = {}
    for kind, name, pod, env, command, _ in workloads:
        wanted = [(DNS, 53, "UDP", "DNS"), (DNS, 53, "TCP", "DNS")]
        if DELIVERS_WEBHOOKS in command.env:
            wanted.append((OUTSIDE, WEBHOOK_PORT, "TCP", "webhook deliveries"))
        if (env.get(READS_AWS) or "").startswith("s3://") and READS_AWS in command.env:
            wanted.append((OUTSIDE, WEBHOOK_PORT, "TCP", "the picture store (S3, MEDIA_STORE)"))
        reads = command.env | ({"OTEL_EXPORTER_OTLP_ENDPOINT"} if kind == "Deployment" else set())
        for variable in sorted(reads & (set(URL_TO) | set(EXTERNAL_LABELS))):
            value = env.get(variable)
            if value is None and variable in env:
                value = secrets.get(variable, SECRET_DEFAULTS.get(variable))
            if not value:
                continue
            url = urlparse(value)
            host = cluster_host(url.hostname or "", platform)
            port = url.port or default_port(url)
            outside = variable in EXTERNAL_LABELS and EXTERNAL_LABELS[variable][1] is None
            if host is None and outside:
                wanted.append((OUTSIDE, port, "TCP", variable))
                continue
            if host is None:
                fail(f"{source}: {kind} {name}", f"{variable} names {url.hostname}, outside the cluster, where its egress policies let nothing go")
                continue
            if outside:
                fail(
                    f"{source}: {kind} {name}",
                    f"{variable} names {url.hostname}, inside the cluster, where no policy says which pods the "
                    f"{EXTERNAL_LABELS[variable][0]} server is (its egress policy reaches it outside the cluster only)",
                )
                continue
            service, namespace = host
            if variable in URL_TO:
                target = services.get(service)
                if target is None or namespace != platform:
                    continue  # reported with the URLs' other checks
                selected = [p for p in ec_pods.values() if selects({"matchLabels": target["spec"]["selector"]}, p.labels)]
                for p in target["spec"]["ports"]:
                    if p["port"] == port:
                        for destination in selected:
                            target_port = destination.ports.get(p["targetPort"], p["targetPort"])
                            wanted.append((destination, target_port, "TCP", variable))
            else:
                label, labels = EXTERNAL_LABELS[variable]
                key = (label, namespace)
                if key not in external:
                    external[key] = Pod(f"{label} ({namespace})", namespace, labels)
                wanted.append((external[key], port, "TCP", variable))
        needs[name] = wanted

    strangers = [
        Pod("another pod of this namespace", platform, {"app.kubernetes.io/name": "stranger"}),
        Pod("a pod of another namespace", "elsewhere", {"app.kubernetes.io/name": "stranger"}),
        Pod("a pod labelled ec-user in another namespace", "elsewhere", {"app.kubernetes.io/name": "ec-user"}),
        Pod("a pod labelled ec-bff in another namespace", "elsewhere", {"app.kubernetes.io/name": "ec-bff"}),
        Pod(f"another pod of {controller.namespace}", controller.namespace, {"app.kubernetes.io/name": "stranger"}),
    ]
    hydras = [p for (label, _), p in external.items() if label == "hydra"]
    strangers += [Pod(f"another pod of {h.namespace}", h.namespace, {"app.kubernetes.io/name": "stranger"}) for h in hydras]
    everyone = list(ec_pods.values()) + list(external.values()) + [DNS, PROMETHEUS, COLLECTOR, OUTSIDE, controller] + strangers

    # Each part: an egress policy of its own, every connection its settings need, and nothing else.
    for kind, name, pod, env, _, _ in workloads:
        here = f"{source}: {kind} {name}"
        # Its own: one that says what this part may call, not one every part shares (DNS, traces).
        own = [
            policy
            for _, policy, spec in policies.selecting(pod, "Egress")
            if not all(selects(spec.get("podSelector") or {}, other.labels) for other in ec_pods.values())
        ]
        if not own:
            fail(here, "no egress policy of its own selects its pods")
        wanted = {(d.name, port, protocol) for d, port, protocol, _ in needs[name]}
        for destination, port, protocol, why in needs[name]:
            if not policies.egress(pod, destination, port, protocol):
                fail(here, f"its egress policies do not let it reach {destination.name}:{port}/{protocol} ({why})")
            if not policies.ingress(destination, pod, port, protocol):
                fail(here, f"{destination.name}'s ingress policies do not let it in on {port}/{protocol} ({why})")
        for destination in everyone:
            for port, protocol in PROBED_PORTS:
                # The collector's OTLP/HTTP port is open to every part (ec-traces), whether traces are on or not;
                # outside the cluster, a part that mails may use either submission port (SUBMISSION_PORTS).
                allowed = (
                    (destination.name, port, protocol) in wanted
                    or (destination.name == COLLECTOR.name and port == 4318)
                    or (destination is OUTSIDE and port in SUBMISSION_PORTS and any((OUTSIDE.name, p, protocol) in wanted for p in SUBMISSION_PORTS))
                )
                if not allowed and destination is not pod and policies.egress(pod, destination, port, protocol):
                    fail(here, f"may connect to {destination.name}:{port}/{protocol}, which none of its settings names")

    # Every listening port of every part: reachable from exactly who needs it.
    expected = {(dest.name, port, src): why for src, wanted in needs.items() for dest, port, _, why in wanted}
    for (name, port), pod in public.items():
        expected[(name, port, controller.name)] = "the ingress"
        if not policies.ingress(pod, controller, port):
            fail(f"{source}: {name}", f"the ingress controller cannot reach its public port {port}")
    for kind, name, pod, _, _, scrape in workloads:
        if scrape.get("prometheus.io/scrape") == "true":
            port = int(scrape["prometheus.io/port"])
            expected[(name, port, PROMETHEUS.name)] = "/metrics"
            if not policies.ingress(pod, PROMETHEUS, port):
                fail(f"{source}: {kind} {name}", f"Prometheus cannot scrape its /metrics on {port}")
        for port in sorted(set(pod.ports.values())):
            for other in everyone:
                # /metrics is open to Prometheus's namespace, whichever of its pods scrapes.
                scraper = other.namespace == PROMETHEUS.namespace and (name, port, PROMETHEUS.name) in expected
                needed = (name, port, other.name) in expected or scraper
                if other is not pod and not needed and policies.ingress(pod, other, port):
                    fail(f"{source}: {kind} {name}", f"{other.name} may connect to its port {port}, which nothing needs")

    # The stores the parts' settings name, in this namespace (PostgreSQL, Redis, NATS): each port they are called
    # on, from exactly the parts that call it (and STORE_CLIENTS); their own pods (replicas, routes) are theirs.
    for (label, namespace), store in external.items():
        if namespace != platform or label == "hydra":  # Hydra: below, wherever it runs
            continue
        for port in sorted({port for wanted in needs.values() for d, port, _, _ in wanted if d is store}):
            callers = sorted(src for dest, p, src in expected if (dest, p) == (store.name, port))
            for other in everyone:
                needed = other.name in callers or other.labels.get("app.kubernetes.io/name") in STORE_CLIENTS.get(label, set())
                if other is not store and not needed and policies.ingress(store, other, port):
                    fail(where, f"{store.name} admits {other.name} on {port}, which nothing needs (only {', '.join(callers)})")

    # Hydra, wherever it runs: its admin API only from the user service, its public port from the ingress
    # controller and the BFF.
    for hydra in hydras:
        if not policies.selecting(hydra, "Ingress"):
            fail(where, f"no policy protects {hydra.name}: its admin port is open to every pod")
            continue
        for port, allowed in ((4445, {"ec-user"}), (4444, {"ec-bff", controller.name})):
            for other in everyone:
                if other is hydra:
                    continue
                admitted = policies.ingress(hydra, other, port)
                if other.name in allowed and not admitted:
                    fail(where, f"{hydra.name} does not admit {other.name} on {port}")
                if other.name not in allowed and admitted:
                    fail(where, f"{hydra.name} admits {other.name} on {port} (only {', '.join(sorted(allowed))} may)")


# ------------------------------------------------------------------------------------------------- Kubernetes


def check_kubernetes(ec, documents, source, overlay):
    by_kind = {"NetworkPolicy": [], "Namespace": []}
    for document in documents:
        if document:
            by_kind.setdefault(document["kind"], []).append(document)
    config = {k: v for c in by_kind.get("ConfigMap", []) for k, v in c.get("data", {}).items()}
    secrets = {s["metadata"]["name"]: set(s.get("data", {})) | set(s.get("stringData", {})) for s in by_kind.get("Secret", [])}
    secret_values = {
        k: base64.b64decode(v).decode() for s in by_kind.get("Secret", []) for k, v in (s.get("data") or {}).items()
    } | {k: v for s in by_kind.get("Secret", []) for k, v in (s.get("stringData") or {}).items()}
    services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    pdbs = [p["spec"]["selector"]["matchLabels"] for p in by_kind.get("PodDisruptionBudget", [])]
    scaled = {h["spec"]["scaleTargetRef"]["name"] for h in by_kind.get("HorizontalPodAutoscaler", [])}
    platform = next((d["metadata"].get("namespace") for d in by_kind.get("Deployment", [])), None) or "the platform's namespace"
    for name in sorted(CREDENTIALS & set(config)):
        fail(f"{source}: ConfigMap", f"holds {name}, a credential: give it from a Secret (ec-secrets)")
    listening = {}
    ec_workloads = []
    public_ports = {}  # part -> (its Pod, the port browsers reach it on)
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
                    if variable["name"] in CREDENTIALS:
                        fail(where, f"{variable['name']} is written in the manifest: give it from a Secret (ec-secrets)")
            own = {v["name"] for v in container.get("env", [])}
            args = container.get("args", [])
            part = check_part(ec, where, args, env, own)
            if part is None:
                continue
            ports = {p["containerPort"] for p in container.get("ports", [])}
            names = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
            labels = template["metadata"].get("labels", {})
            ec_workloads.append(
                (
                    workload["kind"],
                    name,
                    Pod(name, platform, labels, names),
                    env,
                    Command.of(ec, part_of(args)[1]),
                    template["metadata"].get("annotations", {}),
                )
            )
            check_production(ec, where, part, args, env, secret_values)
            if part in PUBLIC_ADDRESS_OF and env.get(PUBLIC_ADDRESS_OF[part]):
                public_ports[part] = (ec_workloads[-1][2], port_of(env[PUBLIC_ADDRESS_OF[part]]))
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
            if part == "bff" and not env.get("OIDC_JWKS_URL"):
                fail(where, "has no OIDC_JWKS_URL: it would fetch the keys from the public issuer, which its egress policies do not reach; name Hydra's public Service")
            if by_kind.get("Ingress") and part in ("bff", "user", "web"):
                variable = {"bff": "TRUSTED_PROXIES", "user": "LOGIN_TRUSTED_PROXIES", "web": "WEB_TRUSTED_PROXIES"}[part]
                if not env.get(variable):
                    fail(where, f"has no {variable}: behind the ingress every client would share the controller's address")
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
    if by_kind.get("Ingress"):
        check_mailed_links(source, by_kind["Ingress"], ec_workloads, services, public_ports)
    if "ec-bff" not in scaled:
        fail(source, "the BFF has no HorizontalPodAutoscaler")
    check_network_policies(source, by_kind, ec_workloads, services, platform, secret_values)
    if overlay is not None:
        check_storefront_client(overlay, source, config)


def check_mailed_links(source, ingresses, workloads, services, public_ports):
    """Behind the ingress, the links the user service mails lead to the part they name: https://, to a host the
    Ingress serves with TLS, whose rule for the link's path (the longest that matches) goes to a Service port
    of that part's public port."""
    routes = []  # (host, with TLS, path, pathType, Service, its port's name or number)
    for ingress in ingresses:
        secured = {host for tls in ingress["spec"].get("tls", []) for host in tls.get("hosts", [])}
        for rule in ingress["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"]["service"]
                port = backend["port"].get("name", backend["port"].get("number"))
                routes.append((rule.get("host"), rule.get("host") in secured, path.get("path", "/"), path["pathType"], backend["name"], port))

    def matches(route, path):
        if route[3] == "Exact":
            return path == route[2]
        prefix = route[2].rstrip("/")
        return path == prefix or path.startswith(prefix + "/")

    for kind, name, _, env, command, _ in workloads:
        for variable, (target, link) in MAILED_LINKS.items():
            if variable not in command.env or not env.get(variable) or target not in public_ports:
                continue
            where, value, (pod, listens) = f"{source}: {kind} {name}", env[variable], public_ports[target]
            url = urlparse(value)
            path = url.path.rstrip("/") + link
            found = sorted((r for r in routes if r[0] == url.hostname and matches(r, path)), key=lambda r: len(r[2]))
            if url.scheme != "https":
                fail(where, f"{variable}={value} is not https://: browsers reach the {target} part through the ingress, over TLS")
            elif not found:
                fail(where, f"{variable}={value}: no Ingress of this rendering sends {url.hostname}{path} anywhere")
            else:
                host, secured, _, _, service, port = found[-1]
                spec = services.get(service, {}).get("spec", {})
                reaches = selects({"matchLabels": spec.get("selector", {})}, pod.labels) and any(
                    port in (p.get("name"), p["port"]) and pod.ports.get(p["targetPort"], p["targetPort"]) == listens
                    for p in spec.get("ports", [])
                )
                if not reaches:
                    fail(where, f"{variable}={value}: the Ingress sends {host}{path} to {service}:{port}, not to the {target} part's port {listens}")
                elif not secured:
                    fail(where, f"{variable}={value}: the Ingress serves {host} without TLS")


def check_production(ec, where, part, args, env, secret_values):
    """Kubernetes is production (Compose is the staging trial)."""
    if part not in WITHOUT_ENVIRONMENT and env.get("EC_ENV") != "production":
        fail(where, f"runs with EC_ENV={env.get('EC_ENV')}; Kubernetes is production: EC_ENV=production")
    for name in sorted(DEVELOPMENT_ONLY.keys() & env.keys()):
        fail(where, f"sets {name}: {DEVELOPMENT_ONLY[name]}")
    if part == "order" and setting(ec, args, env, "PAYMENT_PROVIDER") in ("sandbox", None):
        fail(
            where,
            f"PAYMENT_PROVIDER is {setting(ec, args, env, 'PAYMENT_PROVIDER') or 'unknown'}: the sandbox approves any "
            "test card and EC_ENV=production refuses it at start-up; set PAYMENT_PROVIDER=none until a real provider exists",
        )
    # (A REDIS_URL or NATS_URL outside a Secret is reported with the other credentials.)
    for variable in sorted(AUTHENTICATED):
        if env.get(variable, "") is None and variable in secret_values:
            check_authenticated_url(where, variable, secret_values[variable])
    if part == "user":
        check_production_mail(where, env, secret_values)


def check_production_mail(where, env, secret_values):
    """What the user service refuses at start-up in production, as it checks its mail and login settings: an
    SMTP server reached without TLS (unless on the same host), the default sender, and, with the login pages
    served, a LOGIN_PUBLIC_URL that is not https:// or names this machine."""

    def here(host, login):
        """Whether a host is this machine, as the service tells (the login pages' check also counts
        *.localhost and the unspecified address)."""
        host = (host or "").rstrip(".")
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return host == "localhost" or (login and host.endswith(".localhost"))
        return address.is_loopback or (login and address.is_unspecified)

    smtp = secret_values.get("SMTP_URL") if env.get("SMTP_URL", "") is None else env.get("SMTP_URL")
    if smtp:
        url = urlparse(smtp)
        if url.scheme != "smtps" and "tls=required" not in url.query.split("&") and not here(url.hostname, login=False):
            fail(
                where,
                f"SMTP_URL {url.scheme}://{url.hostname}:{url.port or default_port(url)} has no TLS (smtps://, or smtp://"
                "...?tls=required), which production refuses: passwords and reset links would cross the network in clear",
            )
    sender = env.get("MAIL_FROM") or ""
    if sender.endswith(("@localhost", "@localhost>")):
        fail(where, f"MAIL_FROM {sender} is no address customers can answer, which production refuses")
    login = env.get("LOGIN_PUBLIC_URL")
    if login and env.get("HYDRA_ADMIN_URL"):
        url = urlparse(login)
        if url.scheme != "https" or not url.hostname or here(url.hostname, login=True):
            fail(where, f"LOGIN_PUBLIC_URL {login} is not the login pages' https:// address as browsers reach them, which production refuses")


def check_storefront_client(path, source, config):
    """The storefront's registration with this environment's Hydra (storefront-client.json, for `hydra import
    oauth2-client`): the client, audience, URLs and scopes the storefront and the BFF use."""
    where = f"{source}: {path.name}"
    clients = json.loads(path.read_text())
    client = next((c for c in clients if c.get("client_id") == config.get("OIDC_CLIENT_ID", "ec-spa")), None)
    if client is None:
        fail(where, f"registers no client {config.get('OIDC_CLIENT_ID', 'ec-spa')}, the storefront's OIDC_CLIENT_ID")
        return
    storefront = config.get("CORS_ALLOWED_ORIGINS", "").split(",")[0]
    for field, value in (
        ("audience", config.get("OIDC_AUDIENCE", "ec-api")),
        ("redirect_uris", f"{storefront}/callback"),
        ("redirect_uris", f"{storefront}/silent-callback.html"),
        ("post_logout_redirect_uris", f"{storefront}/callback"),
        ("allowed_cors_origins", storefront),
        ("grant_types", "authorization_code"),
        ("grant_types", "refresh_token"),
    ):
        if value not in client.get(field, []):
            fail(where, f"{field} does not hold {value}")
    if client.get("token_endpoint_auth_method") != "none":
        fail(where, "the storefront is a public client (token_endpoint_auth_method none, PKCE)")
    missing = storefront_scopes_missing(client.get("scope", "").split())
    if missing:
        fail(where, f"the storefront client is not allowed the scopes {' '.join(missing)}")


def main():
    ec, compose, rendered = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    check_compose(ec, compose)
    overlays = compose.parent / "k8s" / "overlays"
    for path in rendered:
        documents = list(yaml.safe_load_all(Path(path).read_text()))
        client = overlays / Path(path).stem / "storefront-client.json"
        if any(d and d["kind"] == "Ingress" for d in documents) and not client.exists():
            fail(Path(path).name, f"{client} does not register the storefront with this environment's Hydra")
        check_kubernetes(ec, documents, Path(path).name, client if client.exists() else None)
    for failure in dict.fromkeys(failures):  # once each, in order
        print(f"FAIL {failure}")
    if failures:
        sys.exit(1)
    print(f"settings: compose and {len(rendered)} Kubernetes renderings give every part what it needs")


if __name__ == "__main__":
    main()
