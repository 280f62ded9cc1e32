import datetime as dt
from typing import Literal

from pydantic import ConfigDict, Field

from shared.idnumbers import MobilePhone
from shared.schemas import Schema


class TokenResponse(Schema):
    """An access token (and, for people, a refresh token), as RFC 6749 §5.1 answers."""

    access_token: str = Field(description="Bearer token for the `Authorization` header of every API call")
    token_type: Literal["bearer"] = Field("bearer", description="Always `bearer`")
    expires_in: int = Field(description="Seconds the access token stays valid")
    scope: str = Field(description="Space-separated scopes the token carries")
    refresh_token: str | None = Field(None, description="For people only: spend it once for a new pair")


class StaffSignIn(Schema):
    """A member of staff signing in with their password (and their second factor, once set up)."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64, description="The staff account's username")
    password: str = Field(min_length=1, max_length=200, description="The account's password")
    totp: str | None = Field(None, pattern=r"^[0-9]{6}$", description="Code from the authenticator app, when enabled")


class TotpEnrollment(Schema):
    """A new authenticator secret, pending until a first code confirms it."""

    secret: str = Field(description="Base32 secret, for typing into an authenticator app")
    otpauth_uri: str = Field(description="The same as an otpauth:// URI, for a QR code")


class TotpStart(Schema):
    """Setting up a second factor: the password too, when one is on already and is being replaced."""

    model_config = ConfigDict(extra="forbid")
    current_password: str | None = Field(
        None, min_length=1, max_length=200, description="Required when a second factor is on: it is replaced"
    )


class TotpConfirmation(Schema):
    """The first code of the authenticator app, which turns the second factor on."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[0-9]{6}$", description="The 6-digit code the authenticator app shows now")


class PasswordChange(Schema):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=12, max_length=200)


class CodeRequest(Schema):
    """A resident asking for a sign-in code by SMS."""

    model_config = ConfigDict(extra="forbid")
    phone: MobilePhone


class CodeRequested(Schema):
    """A sign-in code is on its way: how long it lasts, and when another may be asked for."""

    expires_in: int = Field(description="Seconds the code stays valid")
    resend_after: int = Field(description="Seconds before another code may be asked for")


class CodeSignIn(Schema):
    """A resident signing in with the code sent to their phone."""

    model_config = ConfigDict(extra="forbid")
    phone: MobilePhone
    code: str = Field(pattern=r"^[0-9]{6}$", description="The 6-digit code sent by SMS")


class WeChatSignIn(Schema):
    """A resident signing in from the WeChat mini-program."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=128, description="The code from wx.login() in the mini-program")
    phone: MobilePhone | None = Field(
        None,
        description="With `sms_code`: links this WeChat account to the "
        "phone's resident account, so both ways of signing in are "
        "the same person",
    )
    sms_code: str | None = Field(
        None,
        pattern=r"^[0-9]{6}$",
        description="The 6-digit code sent to `phone` by SMS (`POST /api/auth/v1/code-requests`)",
    )


class SignOut(Schema):
    """The refresh token of the sign-in to end."""

    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=1, max_length=200, description="The refresh token last received")


class ClientIn(Schema):
    """A client to register: a partner department or a service of the suite, and the scopes it may use."""

    model_config = ConfigDict(extra="forbid")
    client_id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{2,63}$",
        examples=["medical-insurance"],
        description="The client's id in `client_credentials` requests",
    )
    name: str = Field(min_length=1, max_length=100, examples=["市医疗保障局"], description="Who the client is")
    kind: Literal["partner", "service"] = Field(description="A partner department, or a service of the suite")
    scopes: list[str] = Field(min_length=1, max_length=50, description="The scopes its tokens carry")


class ClientOut(Schema):
    """A registered client (never its secret)."""

    client_id: str = Field(description="The client's id in `client_credentials` requests")
    name: str = Field(description="Who the client is")
    kind: str = Field(description="`partner` or `service`")
    scopes: list[str] = Field(description="The scopes its tokens carry")
    revoked: bool = Field(description="Revoked clients get no tokens")
    previous_secret_valid_until: str | None = Field(
        None, description="Until when the secret replaced by the last rotation still works; null once it does not"
    )


class ClientWithSecret(Schema):
    """A client and its new secret, shown this once."""

    client: ClientOut
    client_secret: str = Field(description="Shown once: store it in the partner's secret store")


class ClientScopesIn(Schema):
    """The scopes a client is to hold from now on."""

    model_config = ConfigDict(extra="forbid")
    scopes: list[str] = Field(min_length=1, max_length=50, description="Replaces the client's scopes")


StaffRole = Literal["community_worker", "street", "district", "city", "auditor"]


class StaffAccountIn(Schema):
    """A staff account to create: who, their first password, their role and the division they work for."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(
        pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$", examples=["haishu-li"], description="The username they sign in with"
    )
    display_name: str = Field(
        min_length=1, max_length=100, examples=["海曙区民政局 李"], description="The name shown for them"
    )
    password: str = Field(min_length=12, max_length=200, description="Their first password (at least 12 characters)")
    role: StaffRole = Field(description="What they do, which sets their scopes and the length of their area code")
    area_code: str = Field(pattern=r"^[0-9]{6,12}$", description="The division the person works for")


class StaffAccountChange(Schema):
    """Another role or area for a staff account; what is left out stays as it is."""

    model_config = ConfigDict(extra="forbid")
    role: StaffRole | None = Field(None, description="The new role")
    area_code: str | None = Field(None, pattern=r"^[0-9]{6,12}$", description="The new division they work for")


class StaffAccountOut(Schema):
    """A staff account (never its password)."""

    username: str = Field(description="The username they sign in with")
    display_name: str = Field(description="The name shown for them")
    role: str = Field(description="What they do, which sets their scopes")
    area_code: str = Field(description="The division they work for")


class GrantOut(Schema):
    """One grant: who changed whose rights, to what, when, in which request."""

    id: int = Field(description="The grant's id, in the order grants were made")
    at: dt.datetime = Field(description="When it was made")
    actor: str = Field(description="Who made it (their subject)")
    action: Literal[
        "client.create", "client.rotate", "client.scopes", "client.revoke", "staff.create", "staff.change"
    ] = Field(description="What was done")
    target: str = Field(description="`client:<id>` or `staff:<username>`")
    scopes: list[str] = Field(description="What the target holds after the change (none once revoked)")
    area_code: str | None = Field(description="The staff account's area after the change (staff only)")
    request_id: str | None = Field(description="The request that made it, as in the logs")
