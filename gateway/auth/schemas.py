import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from shared.idnumbers import MobilePhone
from shared.schemas import Schema


class TokenResponse(Schema):
    """RFC 6749 §5.1."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the access token stays valid")
    scope: str = Field(description="Space-separated scopes the token carries")
    refresh_token: str | None = Field(None, description="For people only: spend it once for a new pair")


class StaffSignIn(Schema):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)
    totp: str | None = Field(None, pattern=r"^\d{6}$", description="Code from the authenticator app, when enabled")


class TotpEnrollment(Schema):
    secret: str = Field(description="Base32 secret, for typing into an authenticator app")
    otpauth_uri: str = Field(description="The same as an otpauth:// URI, for a QR code")


class TotpConfirmation(Schema):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^\d{6}$")


class PasswordChange(Schema):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=12, max_length=200)


class CodeRequest(Schema):
    model_config = ConfigDict(extra="forbid")
    phone: MobilePhone


class CodeRequested(Schema):
    expires_in: int = Field(description="Seconds the code stays valid")
    resend_after: int = Field(description="Seconds before another code may be asked for")


class CodeSignIn(Schema):
    model_config = ConfigDict(extra="forbid")
    phone: MobilePhone
    code: str = Field(pattern=r"^\d{6}$", description="The 6-digit code sent by SMS")


class WeChatSignIn(Schema):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=128, description="The code from wx.login() in the mini-program")
    phone: MobilePhone | None = Field(None, description="With `sms_code`: links this WeChat account to the "
                                                        "phone's resident account, so both ways of signing in are "
                                                        "the same person")
    sms_code: str | None = Field(None, pattern=r"^\d{6}$", description="The 6-digit code sent to `phone` by SMS "
                                                                        "(`POST /api/auth/v1/code-requests`)")


class SignOut(Schema):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=1, max_length=200)


class ClientIn(Schema):
    model_config = ConfigDict(extra="forbid")
    client_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{2,63}$", examples=["medical-insurance"])
    name: str = Field(min_length=1, max_length=100, examples=["市医疗保障局"])
    kind: Literal["partner", "service"]
    scopes: list[str] = Field(min_length=1, max_length=50)


class ClientOut(Schema):
    client_id: str
    name: str
    kind: str
    scopes: list[str]
    revoked: bool
    previous_secret_valid_until: str | None = None


class ClientWithSecret(Schema):
    client: ClientOut
    client_secret: str = Field(description="Shown once: store it in the partner's secret store")


class ClientScopesIn(Schema):
    model_config = ConfigDict(extra="forbid")
    scopes: list[str] = Field(min_length=1, max_length=50)


StaffRole = Literal["community_worker", "street", "district", "city", "auditor"]


class StaffAccountIn(Schema):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$", examples=["haishu-li"])
    display_name: str = Field(min_length=1, max_length=100, examples=["海曙区民政局 李"])
    password: str = Field(min_length=12, max_length=200)
    role: StaffRole
    area_code: str = Field(pattern=r"^\d{6,12}$", description="The division the person works for")


class StaffAccountChange(Schema):
    model_config = ConfigDict(extra="forbid")
    role: StaffRole | None = None
    area_code: str | None = Field(None, pattern=r"^\d{6,12}$")


class StaffAccountOut(Schema):
    username: str
    display_name: str
    role: str
    area_code: str


class GrantOut(Schema):
    """One grant: who changed whose rights, to what, when, in which request."""

    id: int
    at: dt.datetime
    actor: str
    action: Literal["client.create", "client.rotate", "client.scopes", "client.revoke", "staff.create",
                    "staff.change"]
    target: str = Field(description="`client:<id>` or `staff:<username>`")
    scopes: list[str] = Field(description="What the target holds after the change (none once revoked)")
    area_code: str | None
    request_id: str | None
