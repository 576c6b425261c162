#!/usr/bin/env python3
"""Strip botocore's SES models to the facts ses-proxy needs and write C tables.

Usage (from the repository root; any python3, no botocore needed):

    python3 tools/gen_model.py            > api/model_ses.c     # SES v1, Query
    python3 tools/gen_model.py sesv2      > api/model_sesv2.c   # SES v2, REST-JSON
    python3 tools/gen_model.py --dump-roles [ses|sesv2]         # the roles, for review

The argument is a service kept in tests/data/botocore (ses, sesv2) or the path
of a service-2.json. The models in tests/data/botocore are copies of a
botocore release (tests/data/botocore/NOTICE, its version in VERSION), so the
tables can be regenerated from this repository alone; the version is written
into the generated file and into model_service.botocore_version. The output
is deterministic, so a regenerated file diffs cleanly.

What is kept, and why (api/model.h describes the C side):

* shapes: names, types, required members, enums, min/max, list/map members,
  timestampFormat, flattened, sensitive; Query's locationName and result
  wrappers; errors (code, HTTP status, sender fault).
* operations: names and boto3's snake_case names (botocore.xform_name's
  rules), the documented per-second limit (SES's sentences "no more than once
  per second", "no more than 16 times per second", "throttled at one request
  per second"), whether the call sends mail, the model's idempotent trait.
* what botocore's RestJSONSerializer and RestJSONParser read (serialize.py,
  parsers.py): per operation http.method, http.requestUri (also split into
  segments, labels tied to their members, any fixed query part) and
  http.responseCode; per member its location (uri, querystring, header,
  headers, statusCode), locationName, whether it is the structure's payload,
  idempotencyToken and jsonvalue; per shape timestampFormat; the service's
  protocol and jsonVersion. The members that feed the endpoint rule set
  (contextParam) are kept per operation, and every parameter the rule set
  takes that no built-in supplies must be fed by one.
* roles: what a member means to SES (an identity, an address mail is sent
  as, recipients, a configuration set, ...), from the table ROLE_RULES below,
  so the proxy's policy, throttle and routing read SES's rules as data.

Anything the proxy would have to handle and this generator does not know
stops the generator with a message, so a botocore update cannot slip a new
protocol feature past review. Among what botocore's REST serializer and
parser read, that is: document and union shapes (is_document_type,
is_tagged_union), streaming and event-stream payloads, hostPrefix/hostLabel,
http.authPath, a member-level timestampFormat, awsQueryCompatible error
codes, and any location other than the five above. The generator also stops
on two templates of one method that could match the same request, on a URI
label that is not a whole segment or not a required uri member, on a rule-set
parameter nothing supplies, on a role given to a value of the wrong type, and
(for the models kept here) on a role rule that matches nothing. No
documentation prose is copied.
"""
import argparse
import fnmatch
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "botocore")
SERVICES = {"ses": "2010-12-01", "sesv2": "2019-09-27"}

TYPES = {
    "structure": "MODEL_STRUCTURE", "list": "MODEL_LIST", "map": "MODEL_MAP",
    "string": "MODEL_STRING", "integer": "MODEL_INTEGER", "long": "MODEL_LONG",
    "double": "MODEL_DOUBLE", "float": "MODEL_FLOAT", "boolean": "MODEL_BOOLEAN",
    "timestamp": "MODEL_TIMESTAMP", "blob": "MODEL_BLOB",
}
PROTOCOLS = {"query": "MODEL_PROTOCOL_QUERY", "rest-json": "MODEL_PROTOCOL_REST_JSON"}
LOCATIONS = {None: "MODEL_LOC_BODY", "uri": "MODEL_LOC_URI",
             "querystring": "MODEL_LOC_QUERYSTRING", "header": "MODEL_LOC_HEADER",
             "headers": "MODEL_LOC_HEADERS", "statusCode": "MODEL_LOC_STATUS_CODE"}

# Keys of the model this generator understands. Anything else stops it.
KNOWN_METADATA = {"apiVersion", "endpointPrefix", "protocol", "protocols", "serviceAbbreviation",
                  "serviceFullName", "serviceId", "signatureVersion", "signingName", "uid",
                  "xmlNamespace", "jsonVersion", "auth"}
KNOWN_OP = {"name", "http", "input", "output", "errors", "documentation", "idempotent"}
KNOWN_HTTP = {"method", "requestUri", "responseCode"}
KNOWN_IO = {"shape", "resultWrapper", "documentation"}
KNOWN_SHAPE = {"type", "members", "required", "documentation", "error", "exception", "fault",
               "min", "max", "pattern", "sensitive", "member", "key", "value", "enum",
               "deprecated", "deprecatedMessage", "box", "flattened", "timestampFormat",
               "payload", "jsonvalue"}
KNOWN_MEMBER = {"shape", "documentation", "location", "locationName", "contextParam",
                "idempotencyToken", "jsonvalue", "deprecated", "deprecatedMessage", "box"}
TIMESTAMP_FORMATS = {"iso8601", "rfc822", "unixTimestamp"}

WORDS = {"once": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "ten": 10}
RATE_RE = re.compile(
    r"(?:no more than (\w+) (?:times? )?per second|throttled at (\w+) requests? per second)")

# ---- roles -------------------------------------------------------------------
#
# What a member means to SES. The C enum (api/model.h, enum model_role) has
# the same names in the same order, prefixed MODEL_ROLE_. A role is on the
# structure member that carries the value; for a list of strings it applies
# to each string. ROLE_TYPES says which values each role may have.
ROLES = [
    "NONE",
    "IDENTITY",            # an SES identity, email address or domain, named bare
    "IDENTITY_ARN",        # the ARN of an identity (sending authorization)
    "MAILBOX",             # an address mail is sent as or from; may be "Name <a@b>"
    "MAIL_FROM_DOMAIN",    # the custom MAIL FROM (envelope sender) domain of an identity
    "REPLY_TO",            # Reply-To addresses of a message
    "RECIPIENTS",          # To/Cc/Bcc addresses, a raw message's Destinations
    "RAW_MESSAGE",         # raw MIME bytes (a blob)
    "HEADERS",             # headers added to a message: list of {Name, Value}
    "RECEIPT_RECIPIENTS",  # addresses/domains (or .subdomains) a receipt rule receives for
    "CONFIGURATION_SET",
    "TEMPLATE",                      # an email template's name
    "TEMPLATE_ARN",                  # an email template's ARN
    "CUSTOM_VERIFICATION_TEMPLATE",  # a custom verification email template's name
    "CONTACT_LIST",
    "TENANT",
    "DEDICATED_IP_POOL",
    "MULTI_REGION_ENDPOINT",         # a multi-region endpoint's name
    "ENDPOINT_ID",                   # a multi-region endpoint's id (routes and signs the call)
    "RESOURCE_ARN",                  # the ARN of any SES resource, identities included
]
STRINGS = ("string", "list<string>")
ROLE_TYPES = {r: STRINGS for r in ROLES}
ROLE_TYPES.update({"RAW_MESSAGE": ("blob",), "HEADERS": ("list<structure>",)})

# (service, structure, member, target shape, role); '*' and '|'-separated
# shell globs; the first rule that matches a member gives its role. Every
# rule must match at least one member of its service's model (a rule that
# matches nothing is stale and stops the generator). Reviewed against both
# models in full (members, shapes, documentation): a member counts when SES
# authorises the call against the identity it names, when it names an address
# mail is sent as or from, or when it names a configuration set, template,
# contact list, tenant, dedicated IP pool or multi-region endpoint.
ROLE_RULES = [
    # Sending authorization: the identity whose policy allows the sender.
    ("ses", "*", "SourceArn|FromArn|ReturnPathArn", "AmazonResourceName", "IDENTITY_ARN"),
    ("ses", "SendBounceRequest", "BounceSenderArn", "AmazonResourceName", "IDENTITY_ARN"),
    # "the ARN of the identity ... that permits you to receive email for the
    # recipient of the bounced email"
    ("ses", "BouncedRecipientInfo", "RecipientArn", "AmazonResourceName", "IDENTITY_ARN"),
    ("sesv2", "*", "FromEmailAddressIdentityArn|FeedbackForwardingEmailAddressIdentityArn",
     "AmazonResourceName", "IDENTITY_ARN"),
    # Who mail is sent as or from (header From, envelope sender, bounces).
    ("ses", "Send*EmailRequest", "Source|ReturnPath", "Address", "MAILBOX"),
    ("ses", "SendBounceRequest", "BounceSender", "Address", "MAILBOX"),
    ("ses", "BounceAction", "Sender", "Address", "MAILBOX"),
    ("ses|sesv2", "*", "FromEmailAddress", "FromAddress|EmailAddress|InsightsEmailAddress",
     "MAILBOX"),
    ("sesv2", "*", "FeedbackForwardingEmailAddress", "EmailAddress", "MAILBOX"),
    ("ses|sesv2", "*", "MailFromDomain", "MailFromDomainName", "MAIL_FROM_DOMAIN"),
    ("ses|sesv2", "*", "ReplyToAddresses", "AddressList|EmailAddressList", "REPLY_TO"),
    # Who mail goes to.
    ("ses|sesv2", "Destination", "ToAddresses|CcAddresses|BccAddresses", "*", "RECIPIENTS"),
    ("ses", "SendRawEmailRequest", "Destinations", "AddressList", "RECIPIENTS"),
    ("ses|sesv2", "RawMessage", "Data", "RawMessageData", "RAW_MESSAGE"),
    ("sesv2", "Message|Template", "Headers", "MessageHeaderList", "HEADERS"),
    ("sesv2", "BulkEmailEntry", "ReplacementHeaders", "MessageHeaderList", "HEADERS"),
    ("ses", "ReceiptRule", "Recipients", "RecipientsList", "RECEIPT_RECIPIENTS"),
    # Identities named bare.
    ("ses|sesv2", "*", "*", "Identity|IdentityList|Domain", "IDENTITY"),
    ("ses", "VerifyEmailIdentityRequest|VerifyEmailAddressRequest|"
     "DeleteVerifiedEmailAddressRequest", "EmailAddress", "Address", "IDENTITY"),
    # the address becomes an identity once its owner follows the mail's link
    ("ses|sesv2", "SendCustomVerificationEmailRequest", "EmailAddress", "Address|EmailAddress",
     "IDENTITY"),
    ("ses", "ListVerifiedEmailAddressesResponse", "VerifiedEmailAddresses", "AddressList",
     "IDENTITY"),
    # SendBounce: the address that received the mail being bounced (yours)
    ("ses", "BouncedRecipientInfo", "Recipient", "Address", "IDENTITY"),
    ("ses", "RecipientDsnFields", "FinalRecipient", "Address", "IDENTITY"),
    # Named resources.
    ("ses|sesv2", "*", "*", "ConfigurationSetName|ConfigurationSetNameList", "CONFIGURATION_SET"),
    ("ses|sesv2", "*CustomVerificationEmailTemplate*|SendCustomVerificationEmailRequest",
     "TemplateName|CustomVerificationEmailTemplateName", "TemplateName|EmailTemplateName",
     "CUSTOM_VERIFICATION_TEMPLATE"),
    ("ses|sesv2", "*", "TemplateName", "TemplateName|EmailTemplateName", "TEMPLATE"),
    ("ses", "SendTemplatedEmailRequest|SendBulkTemplatedEmailRequest", "Template",
     "TemplateName", "TEMPLATE"),
    ("ses", "TemplateMetadata", "Name", "TemplateName", "TEMPLATE"),
    ("ses|sesv2", "*", "TemplateArn", "AmazonResourceName", "TEMPLATE_ARN"),
    ("sesv2", "*", "*", "ContactListName", "CONTACT_LIST"),
    ("sesv2", "*", "*", "TenantName", "TENANT"),
    ("sesv2", "*", "*", "PoolName|SendingPoolName|ListOfDedicatedIpPools", "DEDICATED_IP_POOL"),
    ("sesv2", "*", "*", "EndpointName", "MULTI_REGION_ENDPOINT"),
    ("sesv2", "*", "*", "EndpointId", "ENDPOINT_ID"),
    # Tagging, tenant associations, reputation entities: any SES resource.
    ("sesv2", "*", "ResourceArn|TenantArn|ReputationEntityReference",
     "AmazonResourceName|ReputationEntityReference", "RESOURCE_ARN"),
]
# String members left without a role whose names suggest an address, an
# identity, an ARN or a resource name: --dump-roles lists them as
# UNCLASSIFIED so that a review sees them too.
SUSPECT_RE = re.compile(
    r"(?i:(address(es)?|e?mail|identit(y|ies)|arns?|domains?|source|sender|recipients?|"
    r"destinations?|tenant|endpoint(id)?|pool|names?|templates?|reference)$)"
    r"|^(From|To|Cc|Bcc)([A-Z]|$)")


def fail(msg):
    sys.exit("gen_model: " + msg)


def xform_name(name):
    """boto3's snake_case name: botocore.xform_name's rules (the special-case
    table botocore keeps names no SES operation)."""
    m = re.search(r"[A-Z]{2,}s$", name)
    if m:  # GatewayARNs -> gateway_arns
        name = name[:-len(m.group())] + "_" + m.group().lower()
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def c_str(s):
    if s is None:
        return "NULL"
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rate_of(doc):
    m = RATE_RE.search(doc or "")
    if not m:
        return 0
    word = (m.group(1) or m.group(2)).lower()
    return WORDS.get(word) or int(word)


def glob(patterns, value):
    return any(fnmatch.fnmatchcase(value, p) for p in patterns.split("|"))


# ---- loading and checking ----------------------------------------------------

def unknown(keys, known, where):
    extra = sorted(set(keys) - known)
    if extra:
        fail("%s: unsupported key(s) %s; teach tools/gen_model.py and the proxy first"
             % (where, ", ".join(extra)))


class Model:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.raw = json.load(f)
        self.path = path
        self.meta = self.raw["metadata"]
        self.shapes = self.raw["shapes"]
        self.ops = self.raw["operations"]
        self.service = {"SES": "ses", "SESv2": "sesv2"}.get(self.meta["serviceId"],
                                                           self.meta["serviceId"].lower())
        self.names = sorted(self.shapes)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.version = botocore_version(path)
        self.rules = load_rule_set(path)
        self.check()

    def type_of(self, shape_name):
        s = self.shapes[shape_name]
        if s["type"] == "list":
            return "list<%s>" % self.shapes[s["member"]["shape"]]["type"]
        return s["type"]

    def check(self):
        meta = self.meta
        unknown(meta, KNOWN_METADATA, "metadata")
        if meta.get("protocol") not in PROTOCOLS:
            fail("protocol %r is not supported" % meta.get("protocol"))
        if meta["protocol"] not in meta.get("protocols", [meta["protocol"]]):
            fail("metadata.protocols does not list metadata.protocol")
        if meta.get("signatureVersion") != "v4" or meta.get("auth", ["aws.auth#sigv4"]) != [
                "aws.auth#sigv4"]:
            fail("only SigV4-signed services are supported")
        rest = meta["protocol"] == "rest-json"
        for name, s in self.shapes.items():
            unknown(s, KNOWN_SHAPE, "shape " + name)
            if s["type"] not in TYPES:
                fail("shape %s: type %s is not supported" % (name, s["type"]))
            if s.get("timestampFormat", "iso8601") not in TIMESTAMP_FORMATS:
                fail("shape %s: timestampFormat %s" % (name, s["timestampFormat"]))
            if "error" in s:
                unknown(s["error"], {"code", "httpStatusCode", "senderFault"}, "error " + name)
            if s.get("jsonvalue") and s["type"] != "string":
                fail("shape %s: jsonvalue on a %s" % (name, s["type"]))
            for mn, mm in s.get("members", {}).items():
                self.check_member(name, s, mn, mm, rest)
            for k in ("member", "key", "value"):
                if k in s:
                    unknown(s[k], {"shape", "documentation", "locationName"},
                            "shape %s.%s" % (name, k))
            payload = s.get("payload")
            if payload is not None:
                if payload not in s.get("members", {}):
                    fail("shape %s: payload %s is not a member" % (name, payload))
                if self.shapes[s["members"][payload]["shape"]]["type"] in ("blob", "string"):
                    fail("shape %s: streaming payloads are not supported" % name)
        for name, op in self.ops.items():
            unknown(op, KNOWN_OP, "operation " + name)
            unknown(op["http"], KNOWN_HTTP, "operation %s http" % name)
            for io in ("input", "output"):
                if io in op:
                    unknown(op[io], KNOWN_IO, "operation %s %s" % (name, io))
            if not rest and op["http"].get("requestUri", "/") != "/":
                fail("operation %s: a Query operation with a request URI" % name)

    def check_member(self, sname, s, mn, mm, rest):
        where = "member %s.%s" % (sname, mn)
        unknown(mm, KNOWN_MEMBER, where)
        loc = mm.get("location")
        if loc not in LOCATIONS:
            fail("%s: location %s is not supported" % (where, loc))
        if loc is not None and not rest:
            fail("%s: a location in a Query model" % where)
        t = self.shapes[mm["shape"]]["type"]
        allowed = {"uri": ("string", "integer", "long", "boolean", "timestamp"),
                   "querystring": ("string", "integer", "long", "boolean", "timestamp",
                                   "list", "map"),
                   "header": ("string", "integer", "long", "boolean", "timestamp", "list"),
                   "headers": ("map",), "statusCode": ("integer",)}
        if loc is not None and t not in allowed[loc]:
            fail("%s: a %s in location %s" % (where, t, loc))
        if loc == "uri" and mn not in s.get("required", []):
            fail("%s: a URI label must be required" % where)
        if mm.get("jsonvalue") and (loc != "header" or t != "string"):
            fail("%s: jsonvalue outside a string header" % where)
        if mm.get("idempotencyToken") and t != "string":
            fail("%s: idempotencyToken on a %s" % (where, t))
        if "contextParam" in mm:
            unknown(mm["contextParam"], {"name"}, where + " contextParam")
            if self.rules is None or mm["contextParam"]["name"] not in self.rules["parameters"]:
                fail("%s: contextParam %s is not a parameter of the endpoint rule set"
                     % (where, mm["contextParam"]["name"]))


def botocore_version(model_path):
    """The botocore release the model came from: tests/data/botocore/VERSION
    for the copies kept there, else 'unknown'."""
    d = os.path.dirname(os.path.abspath(model_path))
    version_file = os.path.join(d, "..", "..", "VERSION")
    if os.path.exists(version_file):
        with open(version_file, encoding="utf-8") as f:
            return f.read().strip()
    return "unknown"


def load_rule_set(model_path):
    path = os.path.join(os.path.dirname(model_path), "endpoint-rule-set-1.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# ---- roles -------------------------------------------------------------------

def classify(model):
    """({(structure, member): role} for every structure member, the set of
    (rule, part, alternative) that matched something)."""
    roles, used = {}, set()
    for sname in model.names:
        s = model.shapes[sname]
        for mn, mm in s.get("members", {}).items():
            role = "NONE"
            for i, (svc, sp, mp, tp, r) in enumerate(ROLE_RULES):
                values = (model.service, sname, mn, mm["shape"])
                if all(glob(p, v) for p, v in zip((svc, sp, mp, tp), values)):
                    role = r
                    for part, (p, v) in enumerate(zip((svc, sp, mp, tp), values)):
                        used.update((i, part, alt) for alt in p.split("|")
                                    if fnmatch.fnmatchcase(v, alt))
                    break
            if role != "NONE" and model.type_of(mm["shape"]) not in ROLE_TYPES[role]:
                fail("role %s on %s.%s, a %s" % (role, sname, mn, model.type_of(mm["shape"])))
            roles[(sname, mn)] = role
    return roles, used


def check_rules_used(model, used):
    """Every alternative of every rule must match in some model it names: a
    rule that matches nothing is stale. Checked over both kept models."""
    for other in SERVICES:
        if other != model.service:
            path = os.path.join(DATA, other, SERVICES[other], "service-2.json")
            used = used | classify(Model(path))[1]
    for i, rule in enumerate(ROLE_RULES):
        for part, p in enumerate(rule[:4]):
            for alt in p.split("|"):
                if (i, part, alt) not in used:
                    fail("role rule %r: %r matches nothing" % (rule, alt))


def children(model, sname):
    s = model.shapes[sname]
    if s["type"] == "structure":
        return [(mn, mm["shape"]) for mn, mm in s.get("members", {}).items()]
    if s["type"] == "list":
        return [("member", s["member"]["shape"])]
    if s["type"] == "map":
        return [("key", s["key"]["shape"]), ("value", s["value"]["shape"])]
    return []


def shape_roles(model, roles):
    """{shape: bitmask of the roles reachable within it}, to a fixpoint
    (shapes may be recursive)."""
    bits = {n: 0 for n in model.names}
    changed = True
    while changed:
        changed = False
        for n in model.names:
            b = bits[n]
            for mn, target in children(model, n):
                r = roles.get((n, mn), "NONE")
                if r != "NONE":
                    b |= 1 << ROLES.index(r)
                b |= bits[target]
            if b != bits[n]:
                bits[n] = b
                changed = True
    return bits


def reachable(model, roots):
    seen, todo = set(), list(roots)
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        todo.extend(t for _, t in children(model, n))
    return seen


def dump_roles(model, roles):
    inputs = reachable(model, [o["input"]["shape"] for o in model.ops.values() if "input" in o])
    outputs = reachable(model, [o["output"]["shape"] for o in model.ops.values()
                                if "output" in o])
    lines = []
    for (sname, mn), role in roles.items():
        mm = model.shapes[sname]["members"][mn]
        if role == "NONE":
            if model.type_of(mm["shape"]) not in STRINGS or not SUSPECT_RE.search(mn):
                continue
            role = "UNCLASSIFIED"
        where = ("in+out" if sname in inputs and sname in outputs else "in" if sname in inputs
                 else "out" if sname in outputs
                 else "error" if "error" in model.shapes[sname] else "-")
        lines.append("%s %s.%s %s" % (role, sname, mn, where))
    order = {r: i for i, r in enumerate(ROLES + ["UNCLASSIFIED"])}
    lines.sort(key=lambda ln: (order[ln.split()[0]], ln))
    out = ["# %s %s (botocore %s): role structure.member direction"
           % (model.service, model.meta["apiVersion"], model.version)]
    return "\n".join(out + lines) + "\n"


# ---- REST details --------------------------------------------------------------

def split_uri(model, op):
    """(path segments as (text, member index or -1, greedy), fixed query or
    None) of op's requestUri; each label a whole segment naming a uri member
    of the input, each uri member named once."""
    uri = op["http"].get("requestUri", "/")
    path, _, query = uri.partition("?")
    if not path.startswith("/"):
        fail("operation %s: requestUri %s does not start with /" % (op["name"], uri))
    inp = model.shapes[op["input"]["shape"]] if "input" in op else {"members": {}}
    members = list(inp.get("members", {}).items())
    by_label = {mm.get("locationName", mn): i for i, (mn, mm) in enumerate(members)
                if mm.get("location") == "uri"}
    segs, seen, greedy = [], set(), 0
    for text in path[1:].split("/") if path != "/" else []:
        m = re.fullmatch(r"\{([A-Za-z0-9_]+)(\+?)\}", text)
        if m is None:
            if "{" in text or "}" in text:
                fail("operation %s: a label that is not a whole segment in %s"
                     % (op["name"], uri))
            segs.append((text, -1, 0))
            continue
        label, plus = m.group(1), m.group(2) == "+"
        if label not in by_label or label in seen:
            fail("operation %s: label %s of %s is not one uri member" % (op["name"], label, uri))
        seen.add(label)
        greedy += plus
        segs.append((label, by_label[label], int(plus)))
    if greedy > 1:
        fail("operation %s: more than one greedy label in %s" % (op["name"], uri))
    if set(by_label) - seen:
        fail("operation %s: uri members %s are not in %s"
             % (op["name"], sorted(set(by_label) - seen), uri))
    if "{" in query:
        fail("operation %s: a label in the query part of %s" % (op["name"], uri))
    return segs, (query or None) if "?" in uri else None


def check_routes(model):
    """No two operations of one method may match the same request (the
    router refuses such a request, so an overlap would make an operation
    unreachable). Conservative: a greedy label may stand for any number of
    segments, and fixed query parts are ignored (a request may carry both)."""
    if model.meta["protocol"] == "query":
        return  # every Query operation is POST "/"; the Action names it
    def compatible(a, b):
        if a[1] >= 0 and b[1] >= 0:
            return True
        if a[1] >= 0 or b[1] >= 0:  # a label matches any non-empty segment
            return (b if a[1] >= 0 else a)[0] != ""
        return a[0] == b[0]

    def overlap(sa, sb):
        ga = [i for i, s in enumerate(sa) if s[2]]
        gb = [i for i, s in enumerate(sb) if s[2]]
        if not ga and not gb:
            return len(sa) == len(sb) and all(compatible(a, b) for a, b in zip(sa, sb))
        # with a greedy label, compare what is fixed before and after it
        head = min(ga + gb)
        tail = min(len(sa) - 1 - ga[0] if ga else len(sa), len(sb) - 1 - gb[0] if gb else len(sb))
        return (all(compatible(a, b) for a, b in zip(sa[:head], sb[:head])) and
                all(compatible(a, b) for a, b in zip(sa[len(sa) - tail:], sb[len(sb) - tail:])))

    ops = sorted(model.ops.values(), key=lambda o: o["name"])
    for i, a in enumerate(ops):
        for b in ops[i + 1:]:
            if a["http"].get("method", "POST") == b["http"].get("method", "POST") and overlap(
                    split_uri(model, a)[0], split_uri(model, b)[0]):
                fail("operations %s and %s can match the same request (%s %s, %s)" % (
                    a["name"], b["name"], a["http"].get("method", "POST"),
                    a["http"].get("requestUri"), b["http"].get("requestUri")))


def check_rule_set(model):
    """Every rule-set parameter that no built-in supplies must be fed by a
    contextParam, or the proxy could not resolve the endpoint."""
    if model.rules is None:
        return
    fed = {mm["contextParam"]["name"] for s in model.shapes.values()
           for mm in s.get("members", {}).values() if "contextParam" in mm}
    for name, p in model.rules["parameters"].items():
        if "builtIn" not in p and name not in fed and p.get("required") \
                and "default" not in p:
            fail("endpoint rule set parameter %s is required and nothing supplies it" % name)
        if "builtIn" not in p and name not in fed:
            fail("endpoint rule set parameter %s has no contextParam in the model" % name)


# ---- C -------------------------------------------------------------------------

def member_flags(model, sname, s, mn, mm):
    flags = []
    if s.get("payload") == mn:
        flags.append("MODEL_MEMBER_PAYLOAD")
    if mm.get("idempotencyToken"):
        flags.append("MODEL_MEMBER_IDEMPOTENCY_TOKEN")
    if mm.get("jsonvalue") or model.shapes[mm["shape"]].get("jsonvalue"):
        flags.append("MODEL_MEMBER_JSONVALUE")
    return " | ".join(flags) or "0"


def emit(model, roles):
    meta, shapes, index = model.meta, model.shapes, model.index
    bits = shape_roles(model, roles)
    out = []
    w = out.append
    rel = os.path.relpath(os.path.abspath(model.path), ROOT)
    if rel.startswith(".."):
        rel = os.path.basename(model.path)
    w("/* Generated by tools/gen_model.py from botocore %s's %s %s model"
      % (model.version, meta["serviceId"], meta["apiVersion"]))
    w(" * (%s). Do not edit. */" % rel)
    w("/* clang-format off */")
    w('#include "api/model.h"\n')

    for n in model.names:
        s = shapes[n]
        i = index[n]
        if "enum" in s:
            w("static const char *const enum_%d[] = {%s};" % (
                i, ", ".join(c_str(e) for e in s["enum"])))
        members = []
        if s["type"] == "structure":
            req = set(s.get("required", []))
            for mn, mm in s.get("members", {}).items():
                members.append((mn, mm.get("locationName"), mm["shape"], mn in req,
                                "MODEL_ROLE_" + roles[(n, mn)], LOCATIONS[mm.get("location")],
                                member_flags(model, n, s, mn, mm)))
        elif s["type"] == "list":
            members.append(("member", s["member"].get("locationName"), s["member"]["shape"],
                            False, "MODEL_ROLE_NONE", "MODEL_LOC_BODY", "0"))
        elif s["type"] == "map":
            for k in ("key", "value"):
                members.append((k, s[k].get("locationName"), s[k]["shape"], True,
                                "MODEL_ROLE_NONE", "MODEL_LOC_BODY", "0"))
        if members:
            w("static const struct model_member members_%d[] = {" % i)
            for mn, loc, ms, rq, role, where, flags in members:
                w("    {%s, %s, %d, %d, %s, %s, %s}," % (
                    c_str(mn), c_str(loc), index[ms], int(rq), role, where, flags))
            w("};")
    w("\nstatic const struct model_shape shapes[] = {")
    for n in model.names:
        s = shapes[n]
        nmem = (len(s.get("members", {})) if s["type"] == "structure"
                else 1 if s["type"] == "list" else 2 if s["type"] == "map" else 0)
        w("    {%s, %s, %d, %d, %d, %d, %d, %s, %s, %d, %s, %d, %s, 0x%xu}," % (
            c_str(n), TYPES[s["type"]], int(bool(s.get("flattened"))),
            int("min" in s), int("max" in s), int(s.get("min", 0)), int(s.get("max", 0)),
            c_str(s.get("timestampFormat")),
            "enum_%d" % index[n] if "enum" in s else "NULL", len(s.get("enum", [])),
            "members_%d" % index[n] if nmem else "NULL", nmem,
            "MODEL_SHAPE_SENSITIVE" if s.get("sensitive") else "0", bits[n]))
    w("};\n")

    ops = sorted(model.ops.values(), key=lambda o: o["name"].encode())
    recipients_bit = 1 << ROLES.index("RECIPIENTS")
    for k, o in enumerate(ops):
        segs, _ = split_uri(model, o)
        if segs:
            w("static const struct model_uri_segment uri_%d[] = {%s};" % (k, ", ".join(
                "{%s, %d, %d}" % (c_str(t), m, g) for t, m, g in segs)))
        params = context_params(model, o)
        if params:
            w("static const struct model_context_param context_%d[] = {%s};" % (k, ", ".join(
                "{%s, %d}" % (c_str(p), m) for p, m in params)))
    w("\nstatic const struct model_op ops[] = {")
    for k, o in enumerate(ops):
        inp = index[o["input"]["shape"]] if "input" in o else -1
        outp = index[o["output"]["shape"]] if "output" in o else -1
        wrapper = o.get("output", {}).get("resultWrapper")
        send = inp >= 0 and bits[o["input"]["shape"]] & recipients_bit
        segs, query = split_uri(model, o)
        params = context_params(model, o)
        w("    {%s, %s, %d, %d, %s, %d, %s, %d," % (
            c_str(o["name"]), c_str(xform_name(o["name"])), inp, outp, c_str(wrapper),
            rate_of(o.get("documentation")), "MODEL_OP_SEND" if send else "MODEL_OP_PLAIN",
            int(bool(o.get("idempotent")))))
        w("     {%s, %s, %s, %d, %s, %d}, %s, %d}," % (
            c_str(o["http"].get("method", "POST")), c_str(o["http"].get("requestUri", "/")),
            "uri_%d" % k if segs else "NULL", len(segs), c_str(query),
            o["http"].get("responseCode", 200),
            "context_%d" % k if params else "NULL", len(params)))
    w("};\n")
    by_snake = sorted(range(len(ops)), key=lambda i: xform_name(ops[i]["name"]).encode())
    w("static const uint16_t ops_by_snake[] = {%s};\n" % ", ".join(map(str, by_snake)))

    errs = sorted(((s["error"].get("code", n), s["error"].get("httpStatusCode", 400),
                    bool(s["error"].get("senderFault"))) for n, s in shapes.items()
                   if "error" in s), key=lambda e: e[0].encode())
    w("static const struct model_error errors[] = {")
    for code, status, sender in errs:
        w("    {%s, %d, %d}," % (c_str(code), status, int(sender)))
    w("};\n")

    ident = re.sub(r"\W", "_", meta["serviceId"].lower())
    w("const struct model_service model_%s = {" % ident)
    w("    %s, %s, %s, %s, %s," % (
        c_str(meta["serviceId"]), c_str(meta["apiVersion"]),
        c_str(meta.get("signingName", meta["endpointPrefix"])), c_str(meta["endpointPrefix"]),
        c_str(meta.get("xmlNamespace"))))
    w("    shapes, sizeof(shapes) / sizeof(shapes[0]),")
    w("    ops, sizeof(ops) / sizeof(ops[0]), ops_by_snake,")
    w("    errors, sizeof(errors) / sizeof(errors[0]),")
    w("    %s, %s, %s, %s," % (PROTOCOLS[meta["protocol"]], c_str(meta.get("jsonVersion")),
                              c_str(meta.get("uid")), c_str(model.version)))
    w("};")
    rated = [o for o in ops if rate_of(o.get("documentation"))]
    sending = [o["name"] for o in ops
               if "input" in o and bits[o["input"]["shape"]] & recipients_bit]
    print("gen_model: %s: %d operations, %d shapes, %d with a documented per-second limit "
          "(%s), sending: %s" % (
              model.service, len(ops), len(model.names), len(rated),
              ", ".join("%d/s x%d" % (r, sum(1 for o in rated
                                             if rate_of(o.get("documentation")) == r))
                        for r in sorted({rate_of(o.get("documentation")) for o in rated})),
              " ".join(sending)), file=sys.stderr)
    return "\n".join(out) + "\n"


def context_params(model, op):
    if "input" not in op:
        return []
    members = model.shapes[op["input"]["shape"]].get("members", {})
    return [(mm["contextParam"]["name"], i) for i, (mn, mm) in enumerate(members.items())
            if "contextParam" in mm]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?", default="ses",
                    help="ses, sesv2, or the path of a service-2.json (default: ses)")
    ap.add_argument("--dump-roles", action="store_true",
                    help="print every member with a role, and the suspect ones without")
    args = ap.parse_args()
    path = args.model
    if path in SERVICES:
        path = os.path.join(DATA, path, SERVICES[path], "service-2.json")
    model = Model(path)
    check_rule_set(model)
    check_routes(model)
    roles, used = classify(model)
    if model.service in SERVICES and os.path.dirname(os.path.abspath(path)) == os.path.join(
            DATA, model.service, SERVICES[model.service]):
        check_rules_used(model, used)
    if args.dump_roles:
        sys.stdout.write(dump_roles(model, roles))
        return
    sys.stdout.write(emit(model, roles))


if __name__ == "__main__":
    main()
