"""The SES rules the generator emits, held to an explicit, reviewed table.

tools/gen_model.py gives every member of SES's models a role (an identity,
an address mail is sent as, the recipients, a configuration set, ...; see
ROLE_RULES there and enum model_role in api/model.h) that the proxy's policy,
throttle and routing act on. This test lists, for both APIs, every member
of every role, and every string member left without one whose name suggests
an address, an identity, an ARN or a resource name (UNCLASSIFIED: reviewed,
and deliberately not a role). When a botocore update adds, moves or drops
any of them the test fails until someone reviews the change and updates the
table (and ROLE_RULES if needed). Each line is "ROLE Structure.Member
direction", direction being where the structure occurs: in (requests), out
(responses), in+out, or error (error bodies).

It also checks that the committed api/model_ses.c and api/model_sesv2.c are
exactly what the generator writes from tests/data/botocore (so the tables can
be regenerated from the repository alone), that the generator's role names
are model.h's enum, that its snake_case names are botocore.xform_name's, and
that it refuses a model with a feature it does not know.

Run: /usr/bin/python3 -m pytest -q tests/integ/test_model_roles.py
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import botocore_models  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GEN = os.path.join(ROOT, "tools", "gen_model.py")
DATA = os.path.join(ROOT, "tests", "data", "botocore")
MODELS = {"ses": "2010-12-01", "sesv2": "2019-09-27"}

SES_ROLES = """
IDENTITY BouncedRecipientInfo.Recipient in
IDENTITY DeleteIdentityPolicyRequest.Identity in
IDENTITY DeleteIdentityRequest.Identity in
IDENTITY DeleteVerifiedEmailAddressRequest.EmailAddress in
IDENTITY GetIdentityDkimAttributesRequest.Identities in
IDENTITY GetIdentityMailFromDomainAttributesRequest.Identities in
IDENTITY GetIdentityNotificationAttributesRequest.Identities in
IDENTITY GetIdentityPoliciesRequest.Identity in
IDENTITY GetIdentityVerificationAttributesRequest.Identities in
IDENTITY ListIdentitiesResponse.Identities out
IDENTITY ListIdentityPoliciesRequest.Identity in
IDENTITY ListVerifiedEmailAddressesResponse.VerifiedEmailAddresses out
IDENTITY PutIdentityPolicyRequest.Identity in
IDENTITY RecipientDsnFields.FinalRecipient in
IDENTITY SendCustomVerificationEmailRequest.EmailAddress in
IDENTITY SetIdentityDkimEnabledRequest.Identity in
IDENTITY SetIdentityFeedbackForwardingEnabledRequest.Identity in
IDENTITY SetIdentityHeadersInNotificationsEnabledRequest.Identity in
IDENTITY SetIdentityMailFromDomainRequest.Identity in
IDENTITY SetIdentityNotificationTopicRequest.Identity in
IDENTITY VerifyDomainDkimRequest.Domain in
IDENTITY VerifyDomainIdentityRequest.Domain in
IDENTITY VerifyEmailAddressRequest.EmailAddress in
IDENTITY VerifyEmailIdentityRequest.EmailAddress in

IDENTITY_ARN BouncedRecipientInfo.RecipientArn in
IDENTITY_ARN SendBounceRequest.BounceSenderArn in
IDENTITY_ARN SendBulkTemplatedEmailRequest.ReturnPathArn in
IDENTITY_ARN SendBulkTemplatedEmailRequest.SourceArn in
IDENTITY_ARN SendEmailRequest.ReturnPathArn in
IDENTITY_ARN SendEmailRequest.SourceArn in
IDENTITY_ARN SendRawEmailRequest.FromArn in
IDENTITY_ARN SendRawEmailRequest.ReturnPathArn in
IDENTITY_ARN SendRawEmailRequest.SourceArn in
IDENTITY_ARN SendTemplatedEmailRequest.ReturnPathArn in
IDENTITY_ARN SendTemplatedEmailRequest.SourceArn in

MAILBOX BounceAction.Sender in+out
MAILBOX CreateCustomVerificationEmailTemplateRequest.FromEmailAddress in
MAILBOX CustomVerificationEmailTemplate.FromEmailAddress out
MAILBOX FromEmailAddressNotVerifiedException.FromEmailAddress error
MAILBOX GetCustomVerificationEmailTemplateResponse.FromEmailAddress out
MAILBOX SendBounceRequest.BounceSender in
MAILBOX SendBulkTemplatedEmailRequest.ReturnPath in
MAILBOX SendBulkTemplatedEmailRequest.Source in
MAILBOX SendEmailRequest.ReturnPath in
MAILBOX SendEmailRequest.Source in
MAILBOX SendRawEmailRequest.Source in
MAILBOX SendTemplatedEmailRequest.ReturnPath in
MAILBOX SendTemplatedEmailRequest.Source in
MAILBOX UpdateCustomVerificationEmailTemplateRequest.FromEmailAddress in

MAIL_FROM_DOMAIN IdentityMailFromDomainAttributes.MailFromDomain out
MAIL_FROM_DOMAIN SetIdentityMailFromDomainRequest.MailFromDomain in

REPLY_TO SendBulkTemplatedEmailRequest.ReplyToAddresses in
REPLY_TO SendEmailRequest.ReplyToAddresses in
REPLY_TO SendTemplatedEmailRequest.ReplyToAddresses in

RECIPIENTS Destination.BccAddresses in
RECIPIENTS Destination.CcAddresses in
RECIPIENTS Destination.ToAddresses in
RECIPIENTS SendRawEmailRequest.Destinations in

RAW_MESSAGE RawMessage.Data in

RECEIPT_RECIPIENTS ReceiptRule.Recipients in+out

CONFIGURATION_SET ConfigurationSet.Name in+out
CONFIGURATION_SET ConfigurationSetAlreadyExistsException.ConfigurationSetName error
CONFIGURATION_SET ConfigurationSetDoesNotExistException.ConfigurationSetName error
CONFIGURATION_SET ConfigurationSetSendingPausedException.ConfigurationSetName error
CONFIGURATION_SET CreateConfigurationSetEventDestinationRequest.ConfigurationSetName in
CONFIGURATION_SET CreateConfigurationSetTrackingOptionsRequest.ConfigurationSetName in
CONFIGURATION_SET DeleteConfigurationSetEventDestinationRequest.ConfigurationSetName in
CONFIGURATION_SET DeleteConfigurationSetRequest.ConfigurationSetName in
CONFIGURATION_SET DeleteConfigurationSetTrackingOptionsRequest.ConfigurationSetName in
CONFIGURATION_SET DescribeConfigurationSetRequest.ConfigurationSetName in
CONFIGURATION_SET EventDestinationAlreadyExistsException.ConfigurationSetName error
CONFIGURATION_SET EventDestinationDoesNotExistException.ConfigurationSetName error
CONFIGURATION_SET InvalidCloudWatchDestinationException.ConfigurationSetName error
CONFIGURATION_SET InvalidFirehoseDestinationException.ConfigurationSetName error
CONFIGURATION_SET InvalidSNSDestinationException.ConfigurationSetName error
CONFIGURATION_SET PutConfigurationSetDeliveryOptionsRequest.ConfigurationSetName in
CONFIGURATION_SET SendBulkTemplatedEmailRequest.ConfigurationSetName in
CONFIGURATION_SET SendCustomVerificationEmailRequest.ConfigurationSetName in
CONFIGURATION_SET SendEmailRequest.ConfigurationSetName in
CONFIGURATION_SET SendRawEmailRequest.ConfigurationSetName in
CONFIGURATION_SET SendTemplatedEmailRequest.ConfigurationSetName in
CONFIGURATION_SET TrackingOptionsAlreadyExistsException.ConfigurationSetName error
CONFIGURATION_SET TrackingOptionsDoesNotExistException.ConfigurationSetName error
CONFIGURATION_SET UpdateConfigurationSetEventDestinationRequest.ConfigurationSetName in
CONFIGURATION_SET UpdateConfigurationSetReputationMetricsEnabledRequest.ConfigurationSetName in
CONFIGURATION_SET UpdateConfigurationSetSendingEnabledRequest.ConfigurationSetName in
CONFIGURATION_SET UpdateConfigurationSetTrackingOptionsRequest.ConfigurationSetName in

TEMPLATE DeleteTemplateRequest.TemplateName in
TEMPLATE GetTemplateRequest.TemplateName in
TEMPLATE InvalidRenderingParameterException.TemplateName error
TEMPLATE InvalidTemplateException.TemplateName error
TEMPLATE MissingRenderingAttributeException.TemplateName error
TEMPLATE SendBulkTemplatedEmailRequest.Template in
TEMPLATE SendTemplatedEmailRequest.Template in
TEMPLATE Template.TemplateName in+out
TEMPLATE TemplateDoesNotExistException.TemplateName error
TEMPLATE TemplateMetadata.Name out
TEMPLATE TestRenderTemplateRequest.TemplateName in

TEMPLATE_ARN SendBulkTemplatedEmailRequest.TemplateArn in
TEMPLATE_ARN SendTemplatedEmailRequest.TemplateArn in

CUSTOM_VERIFICATION_TEMPLATE CreateCustomVerificationEmailTemplateRequest.TemplateName in
CUSTOM_VERIFICATION_TEMPLATE CustomVerificationEmailTemplate.TemplateName out
CUSTOM_VERIFICATION_TEMPLATE CustomVerificationEmailTemplateAlreadyExistsException.CustomVerificationEmailTemplateName error
CUSTOM_VERIFICATION_TEMPLATE CustomVerificationEmailTemplateDoesNotExistException.CustomVerificationEmailTemplateName error
CUSTOM_VERIFICATION_TEMPLATE DeleteCustomVerificationEmailTemplateRequest.TemplateName in
CUSTOM_VERIFICATION_TEMPLATE GetCustomVerificationEmailTemplateRequest.TemplateName in
CUSTOM_VERIFICATION_TEMPLATE GetCustomVerificationEmailTemplateResponse.TemplateName out
CUSTOM_VERIFICATION_TEMPLATE SendCustomVerificationEmailRequest.TemplateName in
CUSTOM_VERIFICATION_TEMPLATE UpdateCustomVerificationEmailTemplateRequest.TemplateName in

UNCLASSIFIED AddHeaderAction.HeaderName in+out
UNCLASSIFIED AlreadyExistsException.Name error
UNCLASSIFIED BounceAction.TopicArn in+out
UNCLASSIFIED CannotDeleteException.Name error
UNCLASSIFIED CloneReceiptRuleSetRequest.OriginalRuleSetName in
UNCLASSIFIED CloneReceiptRuleSetRequest.RuleSetName in
UNCLASSIFIED CloudWatchDimensionConfiguration.DimensionName in+out
UNCLASSIFIED CloudWatchDimensionConfiguration.DimensionValueSource in+out
UNCLASSIFIED ConnectAction.IAMRoleARN in+out
UNCLASSIFIED ConnectAction.InstanceARN in+out
UNCLASSIFIED CreateReceiptRuleRequest.RuleSetName in
UNCLASSIFIED CreateReceiptRuleSetRequest.RuleSetName in
UNCLASSIFIED DeleteConfigurationSetEventDestinationRequest.EventDestinationName in
UNCLASSIFIED DeleteIdentityPolicyRequest.PolicyName in
UNCLASSIFIED DeleteReceiptFilterRequest.FilterName in
UNCLASSIFIED DeleteReceiptRuleRequest.RuleName in
UNCLASSIFIED DeleteReceiptRuleRequest.RuleSetName in
UNCLASSIFIED DeleteReceiptRuleSetRequest.RuleSetName in
UNCLASSIFIED DescribeConfigurationSetRequest.ConfigurationSetAttributeNames in
UNCLASSIFIED DescribeReceiptRuleRequest.RuleName in
UNCLASSIFIED DescribeReceiptRuleRequest.RuleSetName in
UNCLASSIFIED DescribeReceiptRuleSetRequest.RuleSetName in
UNCLASSIFIED EventDestination.Name in+out
UNCLASSIFIED EventDestinationAlreadyExistsException.EventDestinationName error
UNCLASSIFIED EventDestinationDoesNotExistException.EventDestinationName error
UNCLASSIFIED ExtensionField.Name in
UNCLASSIFIED GetIdentityPoliciesRequest.PolicyNames in
UNCLASSIFIED InvalidCloudWatchDestinationException.EventDestinationName error
UNCLASSIFIED InvalidFirehoseDestinationException.EventDestinationName error
UNCLASSIFIED InvalidLambdaFunctionException.FunctionArn error
UNCLASSIFIED InvalidSNSDestinationException.EventDestinationName error
UNCLASSIFIED KinesisFirehoseDestination.DeliveryStreamARN in+out
UNCLASSIFIED KinesisFirehoseDestination.IAMRoleARN in+out
UNCLASSIFIED LambdaAction.FunctionArn in+out
UNCLASSIFIED LambdaAction.TopicArn in+out
UNCLASSIFIED ListIdentityPoliciesResponse.PolicyNames out
UNCLASSIFIED MessageTag.Name in
UNCLASSIFIED PutIdentityPolicyRequest.PolicyName in
UNCLASSIFIED ReceiptFilter.Name in+out
UNCLASSIFIED ReceiptRule.Name in+out
UNCLASSIFIED ReceiptRuleSetMetadata.Name out
UNCLASSIFIED ReorderReceiptRuleSetRequest.RuleNames in
UNCLASSIFIED ReorderReceiptRuleSetRequest.RuleSetName in
UNCLASSIFIED RuleDoesNotExistException.Name error
UNCLASSIFIED RuleSetDoesNotExistException.Name error
UNCLASSIFIED S3Action.BucketName in+out
UNCLASSIFIED S3Action.IamRoleArn in+out
UNCLASSIFIED S3Action.KmsKeyArn in+out
UNCLASSIFIED S3Action.TopicArn in+out
UNCLASSIFIED SNSAction.TopicArn in+out
UNCLASSIFIED SNSDestination.TopicARN in+out
UNCLASSIFIED SetActiveReceiptRuleSetRequest.RuleSetName in
UNCLASSIFIED SetReceiptRulePositionRequest.RuleName in
UNCLASSIFIED SetReceiptRulePositionRequest.RuleSetName in
UNCLASSIFIED StopAction.TopicArn in+out
UNCLASSIFIED TestRenderTemplateResponse.RenderedTemplate out
UNCLASSIFIED TrackingOptions.CustomRedirectDomain in+out
UNCLASSIFIED UpdateReceiptRuleRequest.RuleSetName in
UNCLASSIFIED WorkmailAction.OrganizationArn in+out
UNCLASSIFIED WorkmailAction.TopicArn in+out
"""

SESV2_ROLES = """
IDENTITY CreateEmailIdentityPolicyRequest.EmailIdentity in
IDENTITY CreateEmailIdentityRequest.EmailIdentity in
IDENTITY DeleteEmailIdentityPolicyRequest.EmailIdentity in
IDENTITY DeleteEmailIdentityRequest.EmailIdentity in
IDENTITY DomainDeliverabilityCampaign.FromAddress out
IDENTITY DomainDeliverabilityTrackingOption.Domain in+out
IDENTITY GetDomainStatisticsReportRequest.Domain in
IDENTITY GetEmailIdentityPoliciesRequest.EmailIdentity in
IDENTITY GetEmailIdentityRequest.EmailIdentity in
IDENTITY IdentityInfo.IdentityName out
IDENTITY ListDomainDeliverabilityCampaignsRequest.SubscribedDomain in
IDENTITY PutEmailIdentityConfigurationSetAttributesRequest.EmailIdentity in
IDENTITY PutEmailIdentityDkimAttributesRequest.EmailIdentity in
IDENTITY PutEmailIdentityDkimSigningAttributesRequest.EmailIdentity in
IDENTITY PutEmailIdentityFeedbackAttributesRequest.EmailIdentity in
IDENTITY PutEmailIdentityMailFromAttributesRequest.EmailIdentity in
IDENTITY SendCustomVerificationEmailRequest.EmailAddress in
IDENTITY UpdateEmailIdentityPolicyRequest.EmailIdentity in

IDENTITY_ARN SendBulkEmailRequest.FeedbackForwardingEmailAddressIdentityArn in
IDENTITY_ARN SendBulkEmailRequest.FromEmailAddressIdentityArn in
IDENTITY_ARN SendEmailRequest.FeedbackForwardingEmailAddressIdentityArn in
IDENTITY_ARN SendEmailRequest.FromEmailAddressIdentityArn in

MAILBOX CreateCustomVerificationEmailTemplateRequest.FromEmailAddress in
MAILBOX CreateDeliverabilityTestReportRequest.FromEmailAddress in
MAILBOX CustomVerificationEmailTemplateMetadata.FromEmailAddress out
MAILBOX DeliverabilityTestReport.FromEmailAddress out
MAILBOX GetCustomVerificationEmailTemplateResponse.FromEmailAddress out
MAILBOX GetMessageInsightsResponse.FromEmailAddress out
MAILBOX SendBulkEmailRequest.FeedbackForwardingEmailAddress in
MAILBOX SendBulkEmailRequest.FromEmailAddress in
MAILBOX SendEmailRequest.FeedbackForwardingEmailAddress in
MAILBOX SendEmailRequest.FromEmailAddress in
MAILBOX UpdateCustomVerificationEmailTemplateRequest.FromEmailAddress in

MAIL_FROM_DOMAIN MailFromAttributes.MailFromDomain out
MAIL_FROM_DOMAIN PutEmailIdentityMailFromAttributesRequest.MailFromDomain in

REPLY_TO SendBulkEmailRequest.ReplyToAddresses in
REPLY_TO SendEmailRequest.ReplyToAddresses in

RECIPIENTS Destination.BccAddresses in
RECIPIENTS Destination.CcAddresses in
RECIPIENTS Destination.ToAddresses in

RAW_MESSAGE RawMessage.Data in

HEADERS BulkEmailEntry.ReplacementHeaders in
HEADERS Message.Headers in
HEADERS Template.Headers in

CONFIGURATION_SET CreateConfigurationSetEventDestinationRequest.ConfigurationSetName in
CONFIGURATION_SET CreateConfigurationSetRequest.ConfigurationSetName in
CONFIGURATION_SET CreateEmailIdentityRequest.ConfigurationSetName in
CONFIGURATION_SET DeleteConfigurationSetEventDestinationRequest.ConfigurationSetName in
CONFIGURATION_SET DeleteConfigurationSetRequest.ConfigurationSetName in
CONFIGURATION_SET GetConfigurationSetEventDestinationsRequest.ConfigurationSetName in
CONFIGURATION_SET GetConfigurationSetRequest.ConfigurationSetName in
CONFIGURATION_SET GetConfigurationSetResponse.ConfigurationSetName out
CONFIGURATION_SET GetEmailIdentityResponse.ConfigurationSetName out
CONFIGURATION_SET ListConfigurationSetsResponse.ConfigurationSets out
CONFIGURATION_SET PutConfigurationSetArchivingOptionsRequest.ConfigurationSetName in
CONFIGURATION_SET PutConfigurationSetDeliveryOptionsRequest.ConfigurationSetName in
CONFIGURATION_SET PutConfigurationSetReputationOptionsRequest.ConfigurationSetName in
CONFIGURATION_SET PutConfigurationSetSendingOptionsRequest.ConfigurationSetName in
CONFIGURATION_SET PutConfigurationSetSuppressionOptionsRequest.ConfigurationSetName in
CONFIGURATION_SET PutConfigurationSetTrackingOptionsRequest.ConfigurationSetName in
CONFIGURATION_SET PutConfigurationSetVdmOptionsRequest.ConfigurationSetName in
CONFIGURATION_SET PutEmailIdentityConfigurationSetAttributesRequest.ConfigurationSetName in
CONFIGURATION_SET SendBulkEmailRequest.ConfigurationSetName in
CONFIGURATION_SET SendCustomVerificationEmailRequest.ConfigurationSetName in
CONFIGURATION_SET SendEmailRequest.ConfigurationSetName in
CONFIGURATION_SET UpdateConfigurationSetEventDestinationRequest.ConfigurationSetName in

TEMPLATE CreateEmailTemplateRequest.TemplateName in
TEMPLATE DeleteEmailTemplateRequest.TemplateName in
TEMPLATE EmailTemplateMetadata.TemplateName out
TEMPLATE GetEmailTemplateRequest.TemplateName in
TEMPLATE GetEmailTemplateResponse.TemplateName out
TEMPLATE Template.TemplateName in
TEMPLATE TestRenderEmailTemplateRequest.TemplateName in
TEMPLATE UpdateEmailTemplateRequest.TemplateName in

TEMPLATE_ARN Template.TemplateArn in

CUSTOM_VERIFICATION_TEMPLATE CreateCustomVerificationEmailTemplateRequest.TemplateName in
CUSTOM_VERIFICATION_TEMPLATE CustomVerificationEmailTemplateMetadata.TemplateName out
CUSTOM_VERIFICATION_TEMPLATE DeleteCustomVerificationEmailTemplateRequest.TemplateName in
CUSTOM_VERIFICATION_TEMPLATE GetCustomVerificationEmailTemplateRequest.TemplateName in
CUSTOM_VERIFICATION_TEMPLATE GetCustomVerificationEmailTemplateResponse.TemplateName out
CUSTOM_VERIFICATION_TEMPLATE SendCustomVerificationEmailRequest.TemplateName in
CUSTOM_VERIFICATION_TEMPLATE UpdateCustomVerificationEmailTemplateRequest.TemplateName in

CONTACT_LIST ContactList.ContactListName out
CONTACT_LIST ContactListDestination.ContactListName in+out
CONTACT_LIST CreateContactListRequest.ContactListName in
CONTACT_LIST CreateContactRequest.ContactListName in
CONTACT_LIST DeleteContactListRequest.ContactListName in
CONTACT_LIST DeleteContactRequest.ContactListName in
CONTACT_LIST GetContactListRequest.ContactListName in
CONTACT_LIST GetContactListResponse.ContactListName out
CONTACT_LIST GetContactRequest.ContactListName in
CONTACT_LIST GetContactResponse.ContactListName out
CONTACT_LIST ListContactsRequest.ContactListName in
CONTACT_LIST ListManagementOptions.ContactListName in
CONTACT_LIST UpdateContactListRequest.ContactListName in
CONTACT_LIST UpdateContactRequest.ContactListName in

TENANT CreateTenantRequest.TenantName in
TENANT CreateTenantResourceAssociationRequest.TenantName in
TENANT CreateTenantResponse.TenantName out
TENANT DeleteTenantRequest.TenantName in
TENANT DeleteTenantResourceAssociationRequest.TenantName in
TENANT GetTenantRequest.TenantName in
TENANT ListTenantResourcesRequest.TenantName in
TENANT ResourceTenantMetadata.TenantName out
TENANT SendBulkEmailRequest.TenantName in
TENANT SendEmailRequest.TenantName in
TENANT Tenant.TenantName out
TENANT TenantInfo.TenantName out

DEDICATED_IP_POOL CreateDedicatedIpPoolRequest.PoolName in
DEDICATED_IP_POOL DedicatedIp.PoolName out
DEDICATED_IP_POOL DedicatedIpPool.PoolName out
DEDICATED_IP_POOL DeleteDedicatedIpPoolRequest.PoolName in
DEDICATED_IP_POOL DeliveryOptions.SendingPoolName in+out
DEDICATED_IP_POOL GetDedicatedIpPoolRequest.PoolName in
DEDICATED_IP_POOL GetDedicatedIpsRequest.PoolName in
DEDICATED_IP_POOL ListDedicatedIpPoolsResponse.DedicatedIpPools out
DEDICATED_IP_POOL PutConfigurationSetDeliveryOptionsRequest.SendingPoolName in
DEDICATED_IP_POOL PutDedicatedIpInPoolRequest.DestinationPoolName in
DEDICATED_IP_POOL PutDedicatedIpPoolScalingAttributesRequest.PoolName in

MULTI_REGION_ENDPOINT CreateMultiRegionEndpointRequest.EndpointName in
MULTI_REGION_ENDPOINT DeleteMultiRegionEndpointRequest.EndpointName in
MULTI_REGION_ENDPOINT GetMultiRegionEndpointRequest.EndpointName in
MULTI_REGION_ENDPOINT GetMultiRegionEndpointResponse.EndpointName out
MULTI_REGION_ENDPOINT MultiRegionEndpoint.EndpointName out

ENDPOINT_ID CreateMultiRegionEndpointResponse.EndpointId out
ENDPOINT_ID GetMultiRegionEndpointResponse.EndpointId out
ENDPOINT_ID MultiRegionEndpoint.EndpointId out
ENDPOINT_ID SendBulkEmailRequest.EndpointId in
ENDPOINT_ID SendEmailRequest.EndpointId in

RESOURCE_ARN CreateTenantResourceAssociationRequest.ResourceArn in
RESOURCE_ARN CreateTenantResponse.TenantArn out
RESOURCE_ARN DeleteTenantResourceAssociationRequest.ResourceArn in
RESOURCE_ARN GetReputationEntityRequest.ReputationEntityReference in
RESOURCE_ARN ListResourceTenantsRequest.ResourceArn in
RESOURCE_ARN ListTagsForResourceRequest.ResourceArn in
RESOURCE_ARN Recommendation.ResourceArn out
RESOURCE_ARN ReputationEntity.ReputationEntityReference out
RESOURCE_ARN ResourceTenantMetadata.ResourceArn out
RESOURCE_ARN TagResourceRequest.ResourceArn in
RESOURCE_ARN Tenant.TenantArn out
RESOURCE_ARN TenantInfo.TenantArn out
RESOURCE_ARN TenantResource.ResourceArn out
RESOURCE_ARN UntagResourceRequest.ResourceArn in
RESOURCE_ARN UpdateReputationEntityCustomerManagedStatusRequest.ReputationEntityReference in
RESOURCE_ARN UpdateReputationEntityPolicyRequest.ReputationEntityReference in

UNCLASSIFIED AccountDetails.AdditionalContactEmailAddresses out
UNCLASSIFIED ArchivingOptions.ArchiveArn in+out
UNCLASSIFIED Attachment.FileName in
UNCLASSIFIED BlacklistEntry.RblName out
UNCLASSIFIED CloudWatchDimensionConfiguration.DimensionName in+out
UNCLASSIFIED CloudWatchDimensionConfiguration.DimensionValueSource in+out
UNCLASSIFIED Contact.EmailAddress out
UNCLASSIFIED CreateConfigurationSetEventDestinationRequest.EventDestinationName in
UNCLASSIFIED CreateContactRequest.EmailAddress in
UNCLASSIFIED CreateDeliverabilityTestReportRequest.ReportName in
UNCLASSIFIED CreateEmailIdentityPolicyRequest.PolicyName in
UNCLASSIFIED DeleteConfigurationSetEventDestinationRequest.EventDestinationName in
UNCLASSIFIED DeleteContactRequest.EmailAddress in
UNCLASSIFIED DeleteEmailIdentityPolicyRequest.PolicyName in
UNCLASSIFIED DeleteSuppressedDestinationRequest.EmailAddress in
UNCLASSIFIED DeliverabilityTestReport.ReportName out
UNCLASSIFIED DomainIspPlacement.IspName out
UNCLASSIFIED EmailInsights.Destination out
UNCLASSIFIED EventBridgeDestination.EventBusArn in+out
UNCLASSIFIED EventDestination.Name out
UNCLASSIFIED ExportMetric.Name in+out
UNCLASSIFIED GetBlacklistReportsRequest.BlacklistItemNames in
UNCLASSIFIED GetContactRequest.EmailAddress in
UNCLASSIFIED GetContactResponse.EmailAddress out
UNCLASSIFIED GetEmailAddressInsightsRequest.EmailAddress in
UNCLASSIFIED GetSuppressedDestinationRequest.EmailAddress in
UNCLASSIFIED IspPlacement.IspName out
UNCLASSIFIED KinesisFirehoseDestination.DeliveryStreamArn in+out
UNCLASSIFIED KinesisFirehoseDestination.IamRoleArn in+out
UNCLASSIFIED ListManagementOptions.TopicName in
UNCLASSIFIED MessageHeader.Name in
UNCLASSIFIED MessageInsightsFilters.Destination in+out
UNCLASSIFIED MessageInsightsFilters.FromEmailAddress in+out
UNCLASSIFIED MessageTag.Name in+out
UNCLASSIFIED PinpointDestination.ApplicationArn in+out
UNCLASSIFIED PutAccountDetailsRequest.AdditionalContactEmailAddresses in
UNCLASSIFIED PutConfigurationSetArchivingOptionsRequest.ArchiveArn in
UNCLASSIFIED PutConfigurationSetTrackingOptionsRequest.CustomRedirectDomain in
UNCLASSIFIED PutSuppressedDestinationRequest.EmailAddress in
UNCLASSIFIED SOARecord.AdminEmail out
UNCLASSIFIED SnsDestination.TopicArn in+out
UNCLASSIFIED SuppressedDestination.EmailAddress out
UNCLASSIFIED SuppressedDestinationSummary.EmailAddress out
UNCLASSIFIED TestRenderEmailTemplateResponse.RenderedTemplate out
UNCLASSIFIED Topic.DisplayName in+out
UNCLASSIFIED Topic.TopicName in+out
UNCLASSIFIED TopicFilter.TopicName in
UNCLASSIFIED TopicPreference.TopicName in+out
UNCLASSIFIED TrackingOptions.CustomRedirectDomain in+out
UNCLASSIFIED UpdateConfigurationSetEventDestinationRequest.EventDestinationName in
UNCLASSIFIED UpdateContactRequest.EmailAddress in
UNCLASSIFIED UpdateEmailIdentityPolicyRequest.PolicyName in
"""


EXPECTED = {"ses": SES_ROLES, "sesv2": SESV2_ROLES}


def gen(*args, check=True):
    return subprocess.run([sys.executable, GEN] + list(args), capture_output=True, text=True,
                          check=check, cwd=ROOT)


def table(text):
    return sorted(line.strip() for line in text.splitlines()
                  if line.strip() and not line.startswith("#"))


@pytest.mark.parametrize("service", sorted(MODELS))
def test_roles_are_the_reviewed_table(service):
    got = table(gen("--dump-roles", service).stdout)
    want = table(EXPECTED[service])
    added = sorted(set(got) - set(want))
    removed = sorted(set(want) - set(got))
    assert not added and not removed, (
        "%s: the generator's roles differ from the reviewed table; review, then update "
        "the table (and ROLE_RULES in tools/gen_model.py)\n  new:\n    %s\n  gone:\n    %s"
        % (service, "\n    ".join(added) or "-", "\n    ".join(removed) or "-"))
    assert len(got) == len(set(got))


@pytest.mark.parametrize("service", sorted(MODELS))
def test_committed_tables_are_generated(service):
    r = gen(*([service] if service != "ses" else []))
    with open(os.path.join(ROOT, "api", "model_%s.c" % service), encoding="utf-8") as f:
        committed = f.read()
    assert r.stdout == committed, (
        "api/model_%s.c is not what tools/gen_model.py writes; regenerate it" % service)
    with open(os.path.join(DATA, "VERSION"), encoding="utf-8") as f:
        version = f.read().strip()
    assert "botocore %s's" % version in committed.splitlines()[0]
    assert '"%s"' % version in committed  # model_service.botocore_version


def import_gen_model():
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    try:
        import gen_model
    finally:
        sys.path.pop(0)
    return gen_model


def test_role_names_match_model_h():
    gen_model = import_gen_model()
    with open(os.path.join(ROOT, "api", "model.h"), encoding="utf-8") as f:
        header = f.read()
    enum = re.search(r"enum model_role \{(.*?)\};", header, re.S).group(1)
    names = re.findall(r"MODEL_ROLE_([A-Z_]+)", enum)
    assert names == gen_model.ROLES + ["COUNT"]
    # every role the rules assign exists, and every role but NONE is assigned
    assert {r[4] for r in gen_model.ROLE_RULES} == set(gen_model.ROLES) - {"NONE"}


@pytest.mark.parametrize("service", sorted(MODELS))
def test_snake_names_are_botocores(service):
    from botocore import xform_name
    model = botocore_models.service_model(service)
    with open(os.path.join(ROOT, "api", "model_%s.c" % service), encoding="utf-8") as f:
        text = f.read()
    pairs = dict(re.findall(r'^    \{"([A-Za-z0-9]+)", "([a-z0-9_]+)", -?\d+, -?\d+,', text, re.M))
    assert sorted(pairs) == sorted(model.operation_names)
    for name in model.operation_names:
        assert pairs[name] == xform_name(name), name


def test_v2_bindings_are_botocores():
    """Per operation: method, URI, and each label's and query member's wire
    name as botocore's own model objects resolve them."""
    model = botocore_models.service_model("sesv2")
    with open(os.path.join(ROOT, "api", "model_sesv2.c"), encoding="utf-8") as f:
        text = f.read()
    http = dict((m[0], (m[1], m[2])) for m in re.findall(
        r'^    \{"([A-Za-z0-9]+)", "[a-z0-9_]+", .*\n     \{"([A-Z]+)", "([^"]*)"', text, re.M))
    assert len(http) == len(model.operation_names) == 110
    for name in model.operation_names:
        op = model.operation_model(name)
        assert http[name] == (op.http["method"], op.http["requestUri"]), name
        for mn, shape in (op.input_shape.members.items() if op.input_shape else []):
            loc = shape.serialization.get("location")
            if loc in ("uri", "querystring"):
                wire = shape.serialization.get("name", mn)
                assert "{%s}" % wire in op.http["requestUri"] or loc == "querystring", (name, mn)
                assert re.search(r'\{"%s", "%s", \d+, 1?0?, MODEL_ROLE_\w+, MODEL_LOC_%s,'
                                 % (mn, wire, loc.upper()), text), (name, mn)


def test_unknown_model_features_are_refused(tmp_path):
    """A model with a trait the proxy does not handle stops the generator."""
    src = os.path.join(DATA, "sesv2", MODELS["sesv2"])
    with open(os.path.join(src, "service-2.json"), encoding="utf-8") as f:
        model = json.load(f)
    shutil.copy(os.path.join(src, "endpoint-rule-set-1.json"), tmp_path)
    def overlapping(m):
        m["operations"]["DeleteTenant"]["http"]["requestUri"] = "/v2/email/tenants/{Name}"
        m["shapes"]["DeleteTenantRequest"]["members"]["TenantName"].update(
            location="uri", locationName="Name")

    cases = [
        ("unsupported key(s) awsQueryCompatible",
         lambda m: m["metadata"].update(awsQueryCompatible={})),
        ("unsupported key(s) document", lambda m: m["shapes"]["Tag"].update(document=True)),
        ("unsupported key(s) endpoint", lambda m: m["operations"]["SendEmail"].update(
            endpoint={"hostPrefix": "x."})),
        ("location cookie", lambda m: m["shapes"]["SendEmailRequest"]["members"][
            "EndpointId"].update(location="cookie")),
        ("label X of /v2/email/{X} is not one uri member",
         lambda m: m["operations"]["GetAccount"]["http"].update(requestUri="/v2/email/{X}")),
        ("can match the same request", overlapping),
        ("role RAW_MESSAGE on RawMessage.Data, a string",
         lambda m: m["shapes"]["RawMessageData"].update(type="string")),
    ]
    for why, change in cases:
        m = json.loads(json.dumps(model))
        change(m)
        path = tmp_path / "service-2.json"
        path.write_text(json.dumps(m))
        r = gen(str(path), check=False)
        assert r.returncode != 0 and why in r.stderr, (why, r.stderr)
    # and the unchanged copy is accepted
    (tmp_path / "service-2.json").write_text(json.dumps(model))
    assert gen(str(tmp_path / "service-2.json"), check=False).returncode == 0


def test_stale_role_rules_are_refused(tmp_path):
    """A rule (or one of its '|' alternatives) that matches nothing in the
    models it names stops the generator: the table cannot rot silently."""
    gen_model = import_gen_model()
    with open(os.path.join(DATA, "sesv2", MODELS["sesv2"], "service-2.json"),
              encoding="utf-8") as f:
        m = json.load(f)
    for s in ("SendEmailRequest", "SendBulkEmailRequest"):
        del m["shapes"][s]["members"]["FeedbackForwardingEmailAddressIdentityArn"]
    path = tmp_path / "service-2.json"
    path.write_text(json.dumps(m))
    shutil.copy(os.path.join(DATA, "sesv2", MODELS["sesv2"], "endpoint-rule-set-1.json"),
                tmp_path)
    model = gen_model.Model(str(path))
    roles, used = gen_model.classify(model)
    with pytest.raises(SystemExit) as e:
        gen_model.check_rules_used(model, used)
    assert "FeedbackForwardingEmailAddressIdentityArn" in str(e.value)
    assert "matches nothing" in str(e.value)
