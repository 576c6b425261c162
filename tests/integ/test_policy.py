"""policy.identities through the proxy: a service may only name the
identities its rule lists, in JSON and in SDK pass-through."""

import boto3
import botocore.config
import pytest

POLICY = {"policy": {"identities": {"Send*": ["alerts@example.com", "*.example.com"],
                                    "*": ["example.com"]}}}


def client_for(p):
    return boto3.client("ses", region_name="us-east-1", endpoint_url=p.url,
                        aws_access_key_id="AKIDTHROWAWAY", aws_secret_access_key="x",
                        config=botocore.config.Config(retries={"max_attempts": 1}))


def test_identity_rules_json(start_proxy, standin):
    p = start_proxy(POLICY)
    ok = p.call({"Action": "SetIdentityMailFromDomain", "Identity": "example.com"})
    assert ok.status == 200, ok
    bad = p.call({"Action": "SetIdentityMailFromDomain", "Identity": "victim.com"})
    assert bad.status == 403 and bad.error_code == "AccessDenied", bad
    assert "Identity" in bad.json["Error"]["Message"]
    send = {"Action": "SendEmail", "Destination": {"ToAddresses": ["x@y.com"]},
            "Message": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}}
    assert p.call(dict(send, Source="Alerts <alerts@example.com>")).status == 200
    assert p.call(dict(send, Source="news@mail.example.com")).status == 200
    r = p.call(dict(send, Source="ceo@example.com"))  # only alerts@ at the apex
    assert r.status == 403 and r.error_code == "AccessDenied", r
    assert standin.count == 3


def test_identity_rules_sdk(start_proxy, standin):
    p = start_proxy(POLICY)
    c = client_for(p)
    c.set_identity_mail_from_domain(Identity="example.com", MailFromDomain="m.example.com")
    with pytest.raises(c.exceptions.ClientError) as e:
        c.set_identity_mail_from_domain(Identity="victim.com")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    raw = b"From: intruder@evil.com\r\nTo: x@y.com\r\nSubject: s\r\n\r\nhi"
    with pytest.raises(c.exceptions.ClientError) as e:
        c.send_raw_email(RawMessage={"Data": raw})
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    c.send_raw_email(RawMessage={"Data": raw.replace(b"intruder@evil.com",
                                                     b"alerts@example.com")})
    assert standin.count == 2


def test_bad_identities_config(proxy_bin, proxy_env, tmp_path):
    import proxyproc
    cfg = tmp_path / "bad.json"
    cfg.write_text('{"policy": {"identities": {"Send*": []}}}')
    r = proxyproc.run_binary(proxy_bin, ["--check-config", "--config", str(cfg)], proxy_env())
    assert r.returncode != 0
    assert b"policy.identities.Send*" in r.stderr, r.stderr
