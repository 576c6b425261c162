/* model_test - the generated SES v1 and v2 tables (api/model.h) and the
 * REST router (api/route.h): lookups, roles, HTTP bindings, per-second
 * limits, routing by method and URI template.
 *
 * The expected facts were read from the botocore models kept in
 * tests/data/botocore; tests/integ/test_model_roles.py checks every role of
 * every member against the generator, and that the committed tables are
 * what the generator writes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/model.h"
#include "api/route.h"

#include "tests/unit/unit_check.h"

static const struct model_op *op_of(const struct model_service *svc, const char *name) {
    return model_find_op(svc, name, strlen(name));
}

static const struct model_member *member_of(const struct model_service *svc, const char *op,
                                            const char *member) {
    const struct model_op *o = op_of(svc, op);
    if (o == NULL || o->input < 0) {
        return NULL;
    }
    return model_find_member(model_shape_at(svc, o->input), member);
}

static int role_of(const struct model_service *svc, const char *op, const char *member) {
    const struct model_member *m = member_of(svc, op, member);
    return m != NULL ? m->role : -1;
}

/* Role of member inside the structure shape named shape_name. */
static int role_in(const struct model_service *svc, const char *shape_name, const char *member) {
    for (size_t i = 0; i < svc->n_shapes; i++) {
        if (strcmp(svc->shapes[i].name, shape_name) == 0) {
            const struct model_member *m = model_find_member(&svc->shapes[i], member);
            return m != NULL ? m->role : -1;
        }
    }
    return -1;
}

/* ---- lookups ----------------------------------------------------------------- */

static void test_services(void) {
    CHECK(model_ses.n_ops == 71);
    CHECK(model_sesv2.n_ops == 110);
    CHECK(model_ses.protocol == MODEL_PROTOCOL_QUERY);
    CHECK(model_sesv2.protocol == MODEL_PROTOCOL_REST_JSON);
    CHECK(strcmp(model_sesv2.signing_name, "ses") == 0);
    CHECK(strcmp(model_sesv2.endpoint_prefix, "email") == 0);
    CHECK(strcmp(model_sesv2.api_version, "2019-09-27") == 0);
    CHECK(strcmp(model_sesv2.service_id, "SESv2") == 0);
    CHECK(strcmp(model_sesv2.json_version, "1.1") == 0);
    CHECK(model_ses.json_version == NULL);
    CHECK(strcmp(model_ses.uid, "email-2010-12-01") == 0);
    CHECK(strcmp(model_sesv2.uid, "sesv2-2019-09-27") == 0);
    CHECK(model_sesv2.xml_namespace == NULL);
    /* both generated from the same botocore release */
    CHECK(strcmp(model_ses.botocore_version, model_sesv2.botocore_version) == 0);
    CHECK(strcmp(model_ses.botocore_version, "unknown") != 0);

    /* ops sorted by name, ops_by_snake by snake name: every op found both ways */
    const struct model_service *svcs[] = {&model_ses, &model_sesv2};
    for (size_t s = 0; s < 2; s++) {
        const struct model_service *svc = svcs[s];
        for (size_t i = 0; i < svc->n_ops; i++) {
            const struct model_op *op = &svc->ops[i];
            CHECK(op_of(svc, op->name) == op);
            CHECK(op_of(svc, op->snake_name) == op);
            if (i > 0) {
                CHECK(strcmp(svc->ops[i - 1].name, op->name) < 0);
                CHECK(strcmp(svc->ops[svc->ops_by_snake[i - 1]].snake_name,
                             svc->ops[svc->ops_by_snake[i]].snake_name) < 0);
            }
        }
    }
    CHECK(strcmp(op_of(&model_sesv2, "GetEmailIdentity")->snake_name, "get_email_identity") == 0);
    CHECK(op_of(&model_sesv2, "put_dedicated_ip_in_pool") ==
          op_of(&model_sesv2, "PutDedicatedIpInPool"));
    CHECK(op_of(&model_sesv2, "SetIdentityMailFromDomain") == NULL); /* v1 only */
    CHECK(op_of(&model_ses, "CreateEmailIdentity") == NULL);         /* v2 only */
    CHECK(op_of(&model_sesv2, "send_email ") == NULL);
    CHECK(model_find_op(&model_sesv2, "SendEmailX", 9) == op_of(&model_sesv2, "SendEmail"));

    /* v2 errors: the code is the shape's name, with its status */
    const struct model_error *e = model_find_error(&model_sesv2, "NotFoundException");
    CHECK(e != NULL && e->http_status == 404);
    e = model_find_error(&model_sesv2, "TooManyRequestsException");
    CHECK(e != NULL && e->http_status == 429);
    CHECK(model_find_error(&model_sesv2, "MessageRejected") != NULL);
    CHECK(model_find_error(&model_ses, "MessageRejected") != NULL);
}

/* The newest v1 model's additions are in the tables. */
static void test_newest_v1(void) {
    const struct model_member *m =
        member_of(&model_ses, "SendBulkTemplatedEmail", "DefaultTemplateData");
    CHECK(m != NULL && m->required);
    CHECK(role_in(&model_ses, "ReceiptAction", "ConnectAction") == MODEL_ROLE_NONE);
    CHECK(role_in(&model_ses, "ConnectAction", "InstanceARN") == MODEL_ROLE_NONE);
    CHECK(role_in(&model_ses, "S3Action", "IamRoleArn") == MODEL_ROLE_NONE);
}

/* ---- roles -------------------------------------------------------------------- */

static void test_roles_v1(void) {
    const struct model_service *s = &model_ses;
    CHECK(role_of(s, "SendEmail", "Source") == MODEL_ROLE_MAILBOX);
    CHECK(role_of(s, "SendEmail", "ReturnPath") == MODEL_ROLE_MAILBOX);
    CHECK(role_of(s, "SendEmail", "SourceArn") == MODEL_ROLE_IDENTITY_ARN);
    CHECK(role_of(s, "SendEmail", "ReturnPathArn") == MODEL_ROLE_IDENTITY_ARN);
    CHECK(role_of(s, "SendEmail", "ReplyToAddresses") == MODEL_ROLE_REPLY_TO);
    CHECK(role_of(s, "SendEmail", "ConfigurationSetName") == MODEL_ROLE_CONFIGURATION_SET);
    CHECK(role_of(s, "SendEmail", "Destination") == MODEL_ROLE_NONE);
    CHECK(role_of(s, "SendEmail", "Message") == MODEL_ROLE_NONE);
    CHECK(role_in(s, "Destination", "ToAddresses") == MODEL_ROLE_RECIPIENTS);
    CHECK(role_in(s, "Destination", "CcAddresses") == MODEL_ROLE_RECIPIENTS);
    CHECK(role_in(s, "Destination", "BccAddresses") == MODEL_ROLE_RECIPIENTS);
    CHECK(role_of(s, "SendRawEmail", "Destinations") == MODEL_ROLE_RECIPIENTS);
    CHECK(role_of(s, "SendRawEmail", "FromArn") == MODEL_ROLE_IDENTITY_ARN);
    CHECK(role_in(s, "RawMessage", "Data") == MODEL_ROLE_RAW_MESSAGE);
    /* bulk: Destinations is a list of structures; the recipients are inside */
    CHECK(role_of(s, "SendBulkTemplatedEmail", "Destinations") == MODEL_ROLE_NONE);
    CHECK(role_of(s, "SendBulkTemplatedEmail", "Template") == MODEL_ROLE_TEMPLATE);
    CHECK(role_of(s, "SendBulkTemplatedEmail", "TemplateArn") == MODEL_ROLE_TEMPLATE_ARN);
    CHECK(role_of(s, "SetIdentityMailFromDomain", "Identity") == MODEL_ROLE_IDENTITY);
    CHECK(role_of(s, "SetIdentityMailFromDomain", "MailFromDomain") == MODEL_ROLE_MAIL_FROM_DOMAIN);
    CHECK(role_of(s, "GetIdentityDkimAttributes", "Identities") == MODEL_ROLE_IDENTITY);
    CHECK(role_of(s, "VerifyDomainIdentity", "Domain") == MODEL_ROLE_IDENTITY);
    CHECK(role_of(s, "VerifyEmailIdentity", "EmailAddress") == MODEL_ROLE_IDENTITY);
    CHECK(role_of(s, "SendBounce", "BounceSender") == MODEL_ROLE_MAILBOX);
    CHECK(role_of(s, "SendBounce", "BounceSenderArn") == MODEL_ROLE_IDENTITY_ARN);
    CHECK(role_in(s, "BounceAction", "Sender") == MODEL_ROLE_MAILBOX);
    CHECK(role_in(s, "ReceiptRule", "Recipients") == MODEL_ROLE_RECEIPT_RECIPIENTS);
    CHECK(role_of(s, "SendCustomVerificationEmail", "TemplateName") ==
          MODEL_ROLE_CUSTOM_VERIFICATION_TEMPLATE);
    CHECK(role_of(s, "GetTemplate", "TemplateName") == MODEL_ROLE_TEMPLATE);
    CHECK(role_of(s, "PutIdentityPolicy", "PolicyName") == MODEL_ROLE_NONE);
    /* list and map element members never carry a role */
    const struct model_member *m = member_of(s, "GetIdentityDkimAttributes", "Identities");
    CHECK(m != NULL && model_shape_at(s, m->shape)->members[0].role == MODEL_ROLE_NONE);
}

static void test_roles_v2(void) {
    const struct model_service *s = &model_sesv2;
    CHECK(role_of(s, "SendEmail", "FromEmailAddress") == MODEL_ROLE_MAILBOX);
    CHECK(role_of(s, "SendEmail", "FromEmailAddressIdentityArn") == MODEL_ROLE_IDENTITY_ARN);
    CHECK(role_of(s, "SendEmail", "FeedbackForwardingEmailAddress") == MODEL_ROLE_MAILBOX);
    CHECK(role_of(s, "SendEmail", "FeedbackForwardingEmailAddressIdentityArn") ==
          MODEL_ROLE_IDENTITY_ARN);
    CHECK(role_of(s, "SendEmail", "ReplyToAddresses") == MODEL_ROLE_REPLY_TO);
    CHECK(role_of(s, "SendEmail", "ConfigurationSetName") == MODEL_ROLE_CONFIGURATION_SET);
    CHECK(role_of(s, "SendEmail", "EndpointId") == MODEL_ROLE_ENDPOINT_ID);
    CHECK(role_of(s, "SendEmail", "TenantName") == MODEL_ROLE_TENANT);
    CHECK(role_in(s, "Destination", "ToAddresses") == MODEL_ROLE_RECIPIENTS);
    CHECK(role_in(s, "RawMessage", "Data") == MODEL_ROLE_RAW_MESSAGE);
    CHECK(role_in(s, "Template", "TemplateName") == MODEL_ROLE_TEMPLATE);
    CHECK(role_in(s, "Template", "TemplateArn") == MODEL_ROLE_TEMPLATE_ARN);
    CHECK(role_in(s, "Template", "Headers") == MODEL_ROLE_HEADERS);
    CHECK(role_in(s, "Message", "Headers") == MODEL_ROLE_HEADERS);
    CHECK(role_in(s, "ListManagementOptions", "ContactListName") == MODEL_ROLE_CONTACT_LIST);
    CHECK(role_of(s, "GetEmailIdentity", "EmailIdentity") == MODEL_ROLE_IDENTITY);
    CHECK(role_of(s, "CreateEmailIdentity", "EmailIdentity") == MODEL_ROLE_IDENTITY);
    CHECK(role_of(s, "CreateEmailIdentity", "ConfigurationSetName") ==
          MODEL_ROLE_CONFIGURATION_SET);
    CHECK(role_of(s, "TagResource", "ResourceArn") == MODEL_ROLE_RESOURCE_ARN);
    CHECK(role_of(s, "GetReputationEntity", "ReputationEntityReference") ==
          MODEL_ROLE_RESOURCE_ARN);
    CHECK(role_of(s, "PutDedicatedIpInPool", "DestinationPoolName") ==
          MODEL_ROLE_DEDICATED_IP_POOL);
    CHECK(role_of(s, "GetMultiRegionEndpoint", "EndpointName") == MODEL_ROLE_MULTI_REGION_ENDPOINT);
    CHECK(role_of(s, "CreateContact", "EmailAddress") == MODEL_ROLE_NONE); /* a contact */
    CHECK(role_of(s, "SendCustomVerificationEmail", "EmailAddress") == MODEL_ROLE_IDENTITY);
    CHECK(role_of(s, "SendCustomVerificationEmail", "TemplateName") ==
          MODEL_ROLE_CUSTOM_VERIFICATION_TEMPLATE);
    CHECK(role_of(s, "GetEmailTemplate", "TemplateName") == MODEL_ROLE_TEMPLATE);
}

/* The roles reachable within a shape, and the send class derived from them. */
static void test_role_reach(void) {
    const struct model_service *svcs[] = {&model_ses, &model_sesv2};
    const char *const sends[2][4] = {
        {"SendBulkTemplatedEmail", "SendEmail", "SendRawEmail", "SendTemplatedEmail"},
        {"SendBulkEmail", "SendEmail", NULL, NULL}};
    for (size_t s = 0; s < 2; s++) {
        const struct model_service *svc = svcs[s];
        size_t n_send = 0;
        for (size_t i = 0; i < svc->n_ops; i++) {
            const struct model_op *op = &svc->ops[i];
            const struct model_shape *in = model_shape_at(svc, op->input);
            int has = in != NULL && model_shape_has_role(in, MODEL_ROLE_RECIPIENTS);
            CHECK(has == (op->op_class == MODEL_OP_SEND));
            n_send += op->op_class == MODEL_OP_SEND;
        }
        for (size_t k = 0; k < 4 && sends[s][k] != NULL; k++) {
            const struct model_op *op = op_of(svc, sends[s][k]);
            CHECK(op != NULL && op->op_class == MODEL_OP_SEND);
        }
        CHECK(n_send == (s == 0 ? 4u : 2u));
        /* a shape's bits are its own members' roles and its children's */
        for (size_t i = 0; i < svc->n_shapes; i++) {
            const struct model_shape *sh = &svc->shapes[i];
            uint32_t want = 0;
            for (uint16_t k = 0; k < sh->n_members; k++) {
                const struct model_member *m = &sh->members[k];
                want |= m->role != MODEL_ROLE_NONE ? 1u << m->role : 0;
                want |= model_shape_at(svc, m->shape)->roles;
            }
            CHECK(sh->roles == want);
            CHECK(!model_shape_has_role(sh, MODEL_ROLE_NONE));
        }
    }
    const struct model_op *bulk = op_of(&model_ses, "SendBulkTemplatedEmail");
    const struct model_shape *in = model_shape_at(&model_ses, bulk->input);
    CHECK(model_shape_has_role(in, MODEL_ROLE_RECIPIENTS));
    CHECK(model_shape_has_role(in, MODEL_ROLE_MAILBOX));
    CHECK(!model_shape_has_role(in, MODEL_ROLE_RAW_MESSAGE));
    const struct model_op *v2send = op_of(&model_sesv2, "SendEmail");
    in = model_shape_at(&model_sesv2, v2send->input);
    CHECK(model_shape_has_role(in, MODEL_ROLE_RAW_MESSAGE));
    CHECK(model_shape_has_role(in, MODEL_ROLE_HEADERS));
    CHECK(model_shape_has_role(in, MODEL_ROLE_CONTACT_LIST));
    CHECK(model_shape_has_role(in, MODEL_ROLE_TEMPLATE_ARN));
    const struct model_op *quota = op_of(&model_ses, "GetSendQuota");
    CHECK(quota->input < 0 && quota->op_class == MODEL_OP_PLAIN);
}

static void test_role_names(void) {
    CHECK(strcmp(model_role_name(MODEL_ROLE_NONE), "NONE") == 0);
    CHECK(strcmp(model_role_name(MODEL_ROLE_IDENTITY), "IDENTITY") == 0);
    CHECK(strcmp(model_role_name(MODEL_ROLE_CUSTOM_VERIFICATION_TEMPLATE),
                 "CUSTOM_VERIFICATION_TEMPLATE") == 0);
    CHECK(strcmp(model_role_name(MODEL_ROLE_RESOURCE_ARN), "RESOURCE_ARN") == 0);
    CHECK(strcmp(model_role_name(MODEL_ROLE_COUNT), "unknown") == 0);
    CHECK(strcmp(model_role_name((enum model_role)200), "unknown") == 0);
    for (int r = 0; r < MODEL_ROLE_COUNT; r++) {
        CHECK(strcmp(model_role_name((enum model_role)r), "unknown") != 0);
    }
}

/* ---- limits ------------------------------------------------------------------- */

static void test_limits(void) {
    size_t ones = 0, others = 0;
    for (size_t i = 0; i < model_ses.n_ops; i++) {
        ones += model_ses.ops[i].rate_per_second == 1;
        others += model_ses.ops[i].rate_per_second > 1;
    }
    CHECK(ones == 60 && others == 0);
    ones = others = 0;
    for (size_t i = 0; i < model_sesv2.n_ops; i++) {
        const struct model_op *op = &model_sesv2.ops[i];
        ones += op->rate_per_second == 1;
        others += op->rate_per_second > 1;
        /* the sending calls draw on the send rate instead */
        CHECK(op->op_class != MODEL_OP_SEND || op->rate_per_second == 0);
    }
    CHECK(ones == 21 && others == 1);
    CHECK(op_of(&model_sesv2, "BatchGetMetricData")->rate_per_second == 16);
    CHECK(op_of(&model_sesv2, "CreateEmailTemplate")->rate_per_second == 1);
    CHECK(op_of(&model_sesv2, "SendCustomVerificationEmail")->rate_per_second == 1);
    CHECK(op_of(&model_sesv2, "CreateEmailIdentity")->rate_per_second == 0);
    CHECK(op_of(&model_ses, "GetIdentityDkimAttributes")->rate_per_second == 1);
    CHECK(op_of(&model_ses, "SendEmail")->rate_per_second == 0);
}

/* ---- REST bindings ---------------------------------------------------------------- */

static void test_http(void) {
    const struct model_op *op = op_of(&model_sesv2, "GetEmailIdentity");
    CHECK(strcmp(op->http.method, "GET") == 0);
    CHECK(strcmp(op->http.request_uri, "/v2/email/identities/{EmailIdentity}") == 0);
    CHECK(op->http.response_status == 200);
    CHECK(op->http.fixed_query == NULL);
    CHECK(op->http.n_segments == 4);
    CHECK(strcmp(op->http.segments[0].text, "v2") == 0 && op->http.segments[0].member == -1);
    CHECK(strcmp(op->http.segments[3].text, "EmailIdentity") == 0 &&
          op->http.segments[3].member == 0 && !op->http.segments[3].greedy);
    const struct model_member *m = member_of(&model_sesv2, "GetEmailIdentity", "EmailIdentity");
    CHECK(m != NULL && m->location == MODEL_LOC_URI && m->required &&
          strcmp(m->wire_name, "EmailIdentity") == 0);

    /* a label whose locationName differs from the member's name */
    op = op_of(&model_sesv2, "GetDedicatedIp");
    m = member_of(&model_sesv2, "GetDedicatedIp", "Ip");
    CHECK(m != NULL && m->location == MODEL_LOC_URI && strcmp(m->wire_name, "IP") == 0);
    CHECK(strcmp(op->http.segments[3].text, "IP") == 0 &&
          &model_shape_at(&model_sesv2, op->input)->members[op->http.segments[3].member] == m);

    /* query-string members, timestamps and lists among them */
    m = member_of(&model_sesv2, "ListSuppressedDestinations", "Reasons");
    CHECK(m != NULL && m->location == MODEL_LOC_QUERYSTRING && strcmp(m->wire_name, "Reason") == 0);
    m = member_of(&model_sesv2, "ListSuppressedDestinations", "StartDate");
    CHECK(m != NULL && m->location == MODEL_LOC_QUERYSTRING &&
          model_shape_at(&model_sesv2, m->shape)->type == MODEL_TIMESTAMP &&
          model_shape_at(&model_sesv2, m->shape)->timestamp_format == NULL);
    m = member_of(&model_sesv2, "ListTagsForResource", "ResourceArn");
    CHECK(m != NULL && m->location == MODEL_LOC_QUERYSTRING);
    /* body members */
    m = member_of(&model_sesv2, "SendEmail", "Content");
    CHECK(m != NULL && m->location == MODEL_LOC_BODY && m->wire_name == NULL && m->flags == 0);
    /* the trailing '/' of a template is an empty last segment */
    op = op_of(&model_sesv2, "GetMessageInsights");
    CHECK(op->http.n_segments == 5 && strcmp(op->http.segments[4].text, "") == 0);
    /* endpoint rule set input */
    op = op_of(&model_sesv2, "SendEmail");
    CHECK(strcmp(op->http.method, "POST") == 0 && op->n_context_params == 1 &&
          strcmp(op->context_params[0].name, "EndpointId") == 0);
    CHECK(
        strcmp(model_shape_at(&model_sesv2, op->input)->members[op->context_params[0].member].name,
               "EndpointId") == 0);
    CHECK(op_of(&model_sesv2, "SendBulkEmail")->n_context_params == 1);
    CHECK(op_of(&model_sesv2, "GetAccount")->n_context_params == 0);
    CHECK(op_of(&model_sesv2, "PutConfigurationSetArchivingOptions")->idempotent);
    CHECK(!op_of(&model_sesv2, "SendEmail")->idempotent);
    /* sensitive shapes */
    m = member_of(&model_sesv2, "PutAccountDetails", "WebsiteURL");
    CHECK(m != NULL && (model_shape_at(&model_sesv2, m->shape)->flags & MODEL_SHAPE_SENSITIVE));
    m = member_of(&model_sesv2, "SendEmail", "FromEmailAddress");
    CHECK(m != NULL && !(model_shape_at(&model_sesv2, m->shape)->flags & MODEL_SHAPE_SENSITIVE));

    /* v1: every operation POST "/" with no segments, members in the body */
    for (size_t i = 0; i < model_ses.n_ops; i++) {
        op = &model_ses.ops[i];
        CHECK(strcmp(op->http.method, "POST") == 0 && strcmp(op->http.request_uri, "/") == 0 &&
              op->http.n_segments == 0 && op->http.response_status == 200);
    }
    /* every v2 label names a uri member of the input, every uri member is a label */
    for (size_t i = 0; i < model_sesv2.n_ops; i++) {
        op = &model_sesv2.ops[i];
        const struct model_shape *in = model_shape_at(&model_sesv2, op->input);
        size_t labels = 0, uri_members = 0;
        CHECK(in != NULL && op->http.request_uri[0] == '/');
        for (size_t k = 0; k < op->http.n_segments; k++) {
            int16_t mi = op->http.segments[k].member;
            if (mi >= 0) {
                labels++;
                CHECK(in->members[mi].location == MODEL_LOC_URI &&
                      strcmp(in->members[mi].wire_name, op->http.segments[k].text) == 0);
            }
        }
        for (uint16_t k = 0; in != NULL && k < in->n_members; k++) {
            uri_members += in->members[k].location == MODEL_LOC_URI;
        }
        CHECK(labels == uri_members && labels <= ROUTE_MAX_LABELS);
    }
}

/* ---- routing ------------------------------------------------------------------- */

struct routed {
    int rc;
    struct route_match m;
    struct sp_err err;
    char buf[512];
};

/* Routes a heap copy of exactly the target's bytes (ASan sees overreads). */
static struct routed *route(const struct model_service *svc, const char *method,
                            const char *target) {
    static struct routed r;
    size_t len = strlen(target);
    char *copy = malloc(len > 0 ? len : 1);
    memcpy(copy, target, len);
    sp_err_clear(&r.err);
    r.rc = route_find(svc, method, strlen(method), copy, len, r.buf, sizeof(r.buf), &r.m, &r.err);
    free(copy);
    return &r;
}

static int routes_to(const char *method, const char *target, const char *op_name) {
    struct routed *r = route(&model_sesv2, method, target);
    return r->rc == 0 && strcmp(r->m.op->name, op_name) == 0;
}

static int refused(const struct model_service *svc, const char *method, const char *target,
                   const char *code) {
    struct routed *r = route(svc, method, target);
    return r->rc == -1 && r->m.op == NULL && r->err.code != NULL && strcmp(r->err.code, code) == 0;
}

static void test_route_v2(void) {
    struct routed *r = route(&model_sesv2, "GET", "/v2/email/identities/a%40example.com");
    CHECK(r->rc == 0 && strcmp(r->m.op->name, "GetEmailIdentity") == 0 && r->m.n_labels == 1 &&
          strcmp(r->m.labels[0].member->name, "EmailIdentity") == 0 &&
          strcmp(r->m.labels[0].value, "a@example.com") == 0 && r->m.labels[0].len == 13);
    /* the same path by other methods */
    CHECK(routes_to("DELETE", "/v2/email/identities/example.com", "DeleteEmailIdentity"));
    CHECK(refused(&model_sesv2, "PUT", "/v2/email/identities/example.com", "InvalidAction"));
    CHECK(refused(&model_sesv2, "get", "/v2/email/identities/example.com", "InvalidAction"));
    CHECK(routes_to("POST", "/v2/email/identities", "CreateEmailIdentity"));
    CHECK(routes_to("GET", "/v2/email/identities", "ListEmailIdentities"));
    CHECK(routes_to("GET", "/v2/email/identities?NextToken=abc&PageSize=5", "ListEmailIdentities"));
    CHECK(routes_to("POST", "/v2/email/outbound-emails", "SendEmail"));
    CHECK(routes_to("POST", "/v2/email/outbound-bulk-emails", "SendBulkEmail"));
    CHECK(routes_to("POST", "/v2/email/tenants/delete", "DeleteTenant"));
    CHECK(routes_to("PUT", "/v2/email/identities/x.com/dkim/signing",
                    "PutEmailIdentityDkimSigningAttributes"));
    CHECK(routes_to("PUT", "/v2/email/identities/x.com/dkim", "PutEmailIdentityDkimAttributes"));
    /* two labels, in template order; %2F stays inside a one-segment label */
    r = route(&model_sesv2, "GET",
              "/v2/email/reputation/entities/RESOURCE/"
              "arn%3Aaws%3Ases%3Aus-east-1%3A123%3Aidentity%2Fexample.com");
    CHECK(r->rc == 0 && strcmp(r->m.op->name, "GetReputationEntity") == 0 && r->m.n_labels == 2 &&
          strcmp(r->m.labels[0].member->name, "ReputationEntityType") == 0 &&
          strcmp(r->m.labels[0].value, "RESOURCE") == 0 &&
          strcmp(r->m.labels[1].value, "arn:aws:ses:us-east-1:123:identity/example.com") == 0);
    r = route(&model_sesv2, "DELETE", "/v2/email/contact-lists/list%20one/contacts/J%C3%B6rg%2Bx");
    CHECK(r->rc == 0 && strcmp(r->m.op->name, "DeleteContact") == 0 && r->m.n_labels == 2 &&
          strcmp(r->m.labels[0].value, "list one") == 0 &&
          strcmp(r->m.labels[1].value, "J\xc3\xb6rg+x") == 0);
    /* '+' is not a space in a path; either hex case */
    r = route(&model_sesv2, "GET", "/v2/email/templates/a+b%2a%2A");
    CHECK(r->rc == 0 && strcmp(r->m.labels[0].value, "a+b**") == 0);
    /* the trailing '/' of a template is significant */
    CHECK(routes_to("GET", "/v2/email/insights/0100abc/", "GetMessageInsights"));
    CHECK(refused(&model_sesv2, "GET", "/v2/email/insights/0100abc", "InvalidAction"));
    CHECK(routes_to("POST", "/v2/email/email-address-insights/", "GetEmailAddressInsights"));
    CHECK(refused(&model_sesv2, "POST", "/v2/email/email-address-insights", "InvalidAction"));
    CHECK(refused(&model_sesv2, "GET", "/v2/email/identities/", "InvalidAction"));
    CHECK(refused(&model_sesv2, "GET", "/v2/email/identities/x/", "InvalidAction"));
    CHECK(refused(&model_sesv2, "GET", "/v2/email//identities", "InvalidAction"));
    /* literal segments are compared as sent: no decoding, no case folding */
    CHECK(refused(&model_sesv2, "GET", "/v2/email/identit%69es/x", "InvalidAction"));
    CHECK(refused(&model_sesv2, "GET", "/V2/email/identities/x", "InvalidAction"));
    /* paths no model operation has (a newer SDK's), never a guess */
    CHECK(refused(&model_sesv2, "GET", "/v2/email/tenants/t1", "InvalidAction"));
    CHECK(refused(&model_sesv2, "GET", "/v2/email/identities/x/unknown", "InvalidAction"));
    CHECK(refused(&model_sesv2, "GET", "/v3/email/account", "InvalidAction"));
    CHECK(refused(&model_sesv2, "GET", "/", "InvalidAction"));
    CHECK(refused(&model_sesv2, "GET", "", "InvalidAction"));
    CHECK(refused(&model_sesv2, "GET", "v2/email/account", "InvalidAction"));
    CHECK(refused(&model_sesv2, "GET", "*", "InvalidAction"));
    /* malformed escapes anywhere in the target, labels that are not text */
    CHECK(refused(&model_sesv2, "GET", "/v2/email/identities/a%4", "MalformedRequest"));
    CHECK(refused(&model_sesv2, "GET", "/v2/email/identities/a%zz", "MalformedRequest"));
    CHECK(refused(&model_sesv2, "GET", "/v2/email/identities/a%", "MalformedRequest"));
    CHECK(refused(&model_sesv2, "GET", "/v2/email/account?x=%g0", "MalformedRequest"));
    CHECK(refused(&model_sesv2, "GET", "/v2/email/nowhere%", "MalformedRequest"));
    CHECK(refused(&model_sesv2, "GET", "/v2/email/identities/a%00b", "MalformedRequest"));
    CHECK(refused(&model_sesv2, "GET", "/v2/email/identities/%C3", "MalformedRequest"));
    CHECK(refused(&model_sesv2, "GET", "/v2/email/identities/%C0%AF", "MalformedRequest"));
    CHECK(refused(&model_sesv2, "GET", "/v2/email/identities/%ED%A0%80", "MalformedRequest"));
    CHECK(refused(&model_sesv2, "GET", "/v2/email/identities/%F4%90%80%80", "MalformedRequest"));
    CHECK(refused(&model_sesv2, "GET", "/v2/email/identities/\xff", "MalformedRequest"));
    CHECK(routes_to("GET", "/v2/email/identities/%F0%9F%93%A7", "GetEmailIdentity"));
    CHECK(routes_to("GET", "/v2/email/identities/%E2%82%AC", "GetEmailIdentity"));

    /* v1 (Query) operations all share POST "/": not routable by path */
    r = route(&model_ses, "POST", "/");
    CHECK(r->rc == -1 && strcmp(r->err.code, "InvalidAction") == 0 &&
          strstr(r->err.msg, "match both") != NULL);

    /* the caller's buffer: longer than the target always suffices */
    char buf[32];
    struct route_match m;
    struct sp_err err;
    const char *t = "/v2/email/identities/abc";
    CHECK(route_find(&model_sesv2, "GET", 3, t, strlen(t), buf, strlen(t) + 1, &m, &err) == 0 &&
          strcmp(m.labels[0].value, "abc") == 0);
    CHECK(route_find(&model_sesv2, "GET", 3, t, strlen(t), buf, strlen(t), &m, &err) == -1 &&
          strcmp(err.code, "InternalError") == 0);
}

/* Every v2 template, rendered with labels, routes back to its operation
 * with those labels, and to no other. */
static void test_route_every_template(void) {
    size_t ok = 0;
    for (size_t i = 0; i < model_sesv2.n_ops; i++) {
        const struct model_op *op = &model_sesv2.ops[i];
        char target[512];
        size_t len = 0;
        for (size_t k = 0; k < op->http.n_segments; k++) {
            const struct model_uri_segment *seg = &op->http.segments[k];
            len += (size_t)snprintf(target + len, sizeof(target) - len, "/%s%s",
                                    seg->member >= 0 ? "v%2F" : "", seg->text);
        }
        if (op->http.n_segments == 0) {
            len += (size_t)snprintf(target, sizeof(target), "/");
        }
        struct routed *r = route(&model_sesv2, op->http.method, target);
        int good = r->rc == 0 && r->m.op == op;
        for (size_t k = 0, l = 0; good && k < op->http.n_segments; k++) {
            const struct model_uri_segment *seg = &op->http.segments[k];
            if (seg->member >= 0) {
                const struct route_label *lab = &r->m.labels[l++];
                good = strncmp(lab->value, "v/", 2) == 0 && strcmp(lab->value + 2, seg->text) == 0;
            }
        }
        CHECK(good);
        ok += good;
    }
    CHECK(ok == 110);
}

/* A synthetic REST service for what SES's templates lack: a greedy label, a
 * fixed query part, two templates that overlap. */
enum { T_IN, T_STR, T_COUNT };
static const struct model_member t_in_members[] = {
    {.name = "Bucket",
     .wire_name = "Bucket",
     .shape = T_STR,
     .required = 1,
     .location = MODEL_LOC_URI},
    {.name = "Key", .wire_name = "Key", .shape = T_STR, .required = 1, .location = MODEL_LOC_URI},
};
static const struct model_shape t_shapes[T_COUNT] = {
    [T_IN] = {.name = "In", .type = MODEL_STRUCTURE, .members = t_in_members, .n_members = 2},
    [T_STR] = {.name = "Str", .type = MODEL_STRING},
};
static const struct model_uri_segment t_get_object[] = {{"Bucket", 0, 0}, {"Key", 1, 1}};
static const struct model_uri_segment t_get_tagging[] = {{"Bucket", 0, 0}, {"Key", 1, 1}};
static const struct model_uri_segment t_get_meta[] = {
    {"Bucket", 0, 0}, {"Key", 1, 1}, {"meta", -1, 0}};
static const struct model_uri_segment t_list[] = {{"Bucket", 0, 0}, {"list", -1, 0}};
static const struct model_uri_segment t_list_any[] = {{"Bucket", 0, 0}, {"Key", 1, 0}};
static const struct model_op t_ops[] = {
    {.name = "GetMeta",
     .snake_name = "get_meta",
     .input = T_IN,
     .output = -1,
     .http = {"GET", "/{Bucket}/{Key+}/meta", t_get_meta, 3, NULL, 200}},
    {.name = "GetObject",
     .snake_name = "get_object",
     .input = T_IN,
     .output = -1,
     .http = {"GET", "/{Bucket}/{Key+}?x-id=GetObject", t_get_object, 2, "x-id=GetObject", 200}},
    {.name = "GetTagging",
     .snake_name = "get_tagging",
     .input = T_IN,
     .output = -1,
     .http = {"GET", "/{Bucket}/{Key+}?tagging", t_get_tagging, 2, "tagging", 200}},
    {.name = "List",
     .snake_name = "list",
     .input = T_IN,
     .output = -1,
     .http = {"PUT", "/{Bucket}/list", t_list, 2, NULL, 200}},
    {.name = "Put",
     .snake_name = "put",
     .input = T_IN,
     .output = -1,
     .http = {"PUT", "/{Bucket}/{Key}", t_list_any, 2, NULL, 201}},
};
static const uint16_t t_by_snake[] = {0, 1, 2, 3, 4};
static const struct model_service t_svc = {
    .service_id = "T",
    .shapes = t_shapes,
    .n_shapes = T_COUNT,
    .ops = t_ops,
    .n_ops = 5,
    .ops_by_snake = t_by_snake,
    .protocol = MODEL_PROTOCOL_REST_JSON,
};

static void test_route_synthetic(void) {
    struct routed *r = route(&t_svc, "GET", "/b/a/b%2Fc//d?x-id=GetObject");
    CHECK(r->rc == 0 && strcmp(r->m.op->name, "GetObject") == 0 && r->m.n_labels == 2 &&
          strcmp(r->m.labels[0].value, "b") == 0 && strcmp(r->m.labels[1].value, "a/b/c//d") == 0);
    /* fixed query items: decoded, in any order, among others */
    r = route(&t_svc, "GET", "/b/k?a=1&x%2Did=Get%4Fbject&z");
    CHECK(r->rc == 0 && strcmp(r->m.op->name, "GetObject") == 0);
    CHECK(refused(&t_svc, "GET", "/b/k?x-id=GetObjects", "InvalidAction"));
    CHECK(refused(&t_svc, "GET", "/b/k?x-id", "InvalidAction"));
    CHECK(refused(&t_svc, "GET", "/b/k", "InvalidAction"));
    r = route(&t_svc, "GET", "/b/k?tagging");
    CHECK(r->rc == 0 && strcmp(r->m.op->name, "GetTagging") == 0);
    r = route(&t_svc, "GET", "/b/k?tagging=");
    CHECK(r->rc == 0 && strcmp(r->m.op->name, "GetTagging") == 0);
    CHECK(refused(&t_svc, "GET", "/b/k?tagging=1", "InvalidAction"));
    /* both fixed queries present: two operations match, so none is chosen */
    r = route(&t_svc, "GET", "/b/k?tagging&x-id=GetObject");
    CHECK(r->rc == -1 && strcmp(r->err.code, "InvalidAction") == 0 &&
          strstr(r->err.msg, "GetObject") != NULL && strstr(r->err.msg, "GetTagging") != NULL);
    /* a greedy label followed by a literal; at least one segment, not empty */
    r = route(&t_svc, "GET", "/b/x/y/meta");
    CHECK(r->rc == 0 && strcmp(r->m.op->name, "GetMeta") == 0 &&
          strcmp(r->m.labels[1].value, "x/y") == 0);
    CHECK(refused(&t_svc, "GET", "/b/meta", "InvalidAction"));
    CHECK(refused(&t_svc, "GET", "/b//meta", "InvalidAction"));
    CHECK(refused(&t_svc, "GET", "/b/?x-id=GetObject", "InvalidAction"));
    CHECK(refused(&t_svc, "GET", "//k?x-id=GetObject", "InvalidAction"));
    /* a literal and a label that both match: refused, not the literal preferred */
    r = route(&t_svc, "PUT", "/b/list");
    CHECK(r->rc == -1 && strstr(r->err.msg, "match both") != NULL);
    r = route(&t_svc, "PUT", "/b/other");
    CHECK(r->rc == 0 && strcmp(r->m.op->name, "Put") == 0 && r->m.op->http.response_status == 201);
}

int main(void) {
    test_services();
    test_newest_v1();
    test_roles_v1();
    test_roles_v2();
    test_role_reach();
    test_role_names();
    test_limits();
    test_http();
    test_route_v2();
    test_route_every_template();
    test_route_synthetic();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
