"""Wire variants: shapes real Azure (or a fake written from the docs) may send that ours does not by default.

Each field switches one documented or observed variation on; the defaults are the shapes the
fake has always served, so tests that do not touch `fake.wire` see no difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Wire:
    content_type: str = "application/json; charset=utf-8"
    """The `Content-Type` of every API reply (a hand-written fake may say `text/plain`, or nothing: empty)."""
    bom: bool = False
    """Every reply body starts with a UTF-8 byte order mark."""
    gzip: bool = False
    """Compress every reply (errors and the token endpoint's too) with `Content-Encoding: gzip` when asked to."""
    error_shape: str = "error"
    """How every API error reply is spelt: `error` (`{"error": {"code", "message"}}`), `odata`
    (`{"odata.error": {"code", "message": {"lang", "value"}}}`), `top-level` (`{"code", "message"}`),
    `inner` (Key Vault's `innererror` with a more telling code), `message` (a message and no code),
    `text` (the message as plain text), `html` (a proxy's error page), `header` (no body, the code in
    `x-ms-error-code`) or `empty` (no body)."""
    error_echo: str = ""
    """Appended to every error message (a service that echoes what it was asked about, a value included)."""
    # -- Resource Graph ----------------------------------------------------------------------
    graph_api_version: str = ""
    """Serve Resource Graph at this api-version only (`2024-04-01`, the REST reference's); any other gets
    400 `InvalidApiVersionParameter` naming the supported ones."""
    graph_token_key: str = "$skipToken"
    """The body key that carries the next page's token (`skipToken` is what some clients print)."""
    graph_truncated: str | bool = "false"
    """`resultTruncated` as sent: the spec's string, or a JSON boolean."""
    graph_truncate_without_token: bool = False
    """A page that leaves rows out says `resultTruncated: "true"` and gives no `$skipToken`."""
    graph_skip_honoured: bool = False
    """Read the request's `options.$skip` (rows to leave out from the start) when it carries no `$skipToken`."""
    graph_truncated_with_token: bool = False
    """A page with a `$skipToken` also says `resultTruncated: "true"` (the rest is behind the token)."""
    graph_sparse: bool = False
    """`subscriptionId` and `resourceGroup` come back null (a fake that projects columns its rows lack)."""
    graph_stuck_token: bool = False
    """Every page gives the token of the second page again (a server bug: paging never ends)."""
    graph_token_ignored: bool = False
    """Serve the first page whatever `$skipToken` asks for, with a token that differs every time
    (a server that hands tokens out but does not read them: paging never ends)."""
    graph_table: bool = False
    """Answer in the `table` result format (`columns`/`rows`) whatever `resultFormat` asked for."""
    graph_facets: object = ()
    """`facets` as sent: the spec's list (default, empty), or an odd shape (`{}`) the SDK's model refuses."""
    graph_total_offset: int = 0
    """Added to `totalRecords` (a count that disagrees with the rows: the service's is an estimate)."""
    graph_trailing_token: bool = False
    """The last page still carries a `$skipToken`, which leads to a page with no rows and no token."""
    graph_counts: bool = True
    """Send `totalRecords` and `count` (a terse fake may leave them out)."""
    graph_page_size: int | None = None
    """Serve at most this many rows a page whatever `$top` asked for."""
    graph_empty_first_page: bool = False
    """A query's first page has no rows but a `$skipToken` (a partial page cut to nothing); the rest follow."""
    graph_null_properties: set[str] = field(default_factory=set)
    """Rows of these types or ids (lower case; `*`: every row) come back with `properties: null`, as from a
    resource provider that has not synced its state to Resource Graph. ARM's own GET still has them."""
    graph_properties_as: object = None
    """What `graph_null_properties` rows carry instead of their properties: null, or an odd type (`""`, `[]`)."""
    graph_empty_as: object = None
    """What an object column with nothing in it (tags, identity, sku) comes back as: null, `""` or `[]`."""
    graph_unfiltered: bool = False
    """Ignore every `where` stage: the table's rows, projected (a fake that knows tables and columns only)."""
    graph_where_refused: bool = False
    """Refuse every query with a `where` stage (400 `BadRequest`, detail `ParserFailure`): a service whose
    KQL knows the tables alone."""
    graph_unscoped: bool = False
    """Ignore the request's `subscriptions`: every subscription's rows (a fake that knows no scopes)."""
    graph_repeat_row: bool = False
    """Each page after the first starts with the previous page's last row again (paging is not a
    snapshot: a row moved under the page boundary)."""
    graph_payload_limit: int | None = None
    """A page whose JSON is longer than this many bytes is refused as Resource Graph refuses one over 16 MiB:
    400 `BadRequest` with the detail code `ResponsePayloadTooLarge`."""
    graph_refusal: str = "403"
    """A query naming a subscription the identity cannot read: `403`, or `drop` (what Resource Graph
    does when another named subscription is readable: that one's rows, and no word of the other)."""
    redirect_to: str = ""
    """Answer every API request with a 307 to this origin (the same path): a gateway moving the service."""
    redirect_only: str = ""
    """Only requests whose path starts with this are redirected (`/kv/`: the vaults' data plane)."""
    drip_path: str = ""
    """A successful reply to a path holding this text trickles its body (`drip_seconds` a byte, for `drip_for`
    seconds, then the rest): no pause is long enough to trip a read timeout."""
    drip_seconds: float = 0.05
    drip_for: float = 8.0
    # -- throttling ----------------------------------------------------------------------------
    retry_after: str = "seconds"
    """How 429s spell `Retry-After`: `seconds`, `date` (an HTTP date), `ms` (`x-ms-retry-after-ms`), `ms-plain`
    (`retry-after-ms`),
    `hour` (3600 s: a spent hourly quota), `garbled` (no HTTP form: `soon`) or `none`."""
    # -- ARM -----------------------------------------------------------------------------------
    arm_prefix: str = ""
    """Also serve every route below this path (`/arm`), for `--arm-endpoint https://host:port/arm`."""
    arm_prefix_only: bool = False
    """Serve ARM routes below `arm_prefix` only: a path without it is 404 (a gateway routing by prefix)."""
    arm_page_size: int | None = None
    """Serve ARM child lists in pages of this many items, chained by `nextLink`."""
    arm_next_link: str = "absolute"
    """`absolute` (the fake's own host), `relative` (a path only), `loop` (every page links to the first),
    `port` (the same host spelt in capitals) or `elsewhere` (`arm_next_host`: another host)."""
    arm_next_host: str = ""
    arm_remaining_header: str = "x-ms-ratelimit-remaining-subscription-reads"
    """The header that says how many reads are left (`...-subscription-global-reads` since ARM's 2024 buckets)."""
    arm_api_versions: dict[str, str] = field(default_factory=dict)
    """ARM route name (`config`, `computes`, ...) -> the only api-version served there; any other gets 400
    `InvalidApiVersionParameter` naming the supported ones (a sovereign cloud or Azure Stack a version behind)."""
    arm_item_ids: bool = True
    """Send each item of an ARM collection with its `id` (False: `name` only, as a terse fake may)."""
    arm_item_id_as: object = None
    """When set, the `id` every ARM collection item is sent with (a number, an object: a broken server)."""
    arm_item_name_as: object = None
    """When set, the `name` every ARM collection item is sent with."""
    arm_empty_value: str = "list"
    """An empty ARM collection as `list` (`{"value": []}`), `missing` (`{}`) or `null` (`{"value": null}`)."""
    pricings_body: object = None
    """When set, the body of every pricings reply (`{}`: no `value` list; `[]`: not even an object)."""
    assessment_details_lower: bool = False
    """Assessments - List spells `resourceDetails` keys in lower case (`source`, `id`), as the REST spec's
    examples do (the live service and Resource Graph write `Source`, `Id`)."""
    graph_resource_pricings_only: bool = False
    """`securityresources` holds only the pricing rows set on single resources (api-version 2024-01-01:
    `{resource}/providers/Microsoft.Security/pricings/{plan}`), not the subscriptions' own."""
    settings_body: object = None
    """When set, the body of every `config/appsettings/list` and `config/connectionstrings/list` reply."""
    # -- identity --------------------------------------------------------------------------------
    token_expiry: str = "int"
    """`expires_in` as `int`, `str`, or `expires_on` only (`on`); `expires_on` only as a date (`iso`,
    `appservice`: `11/28/2026 2:03:00 PM +00:00`, `http-date`); or `fraction` (`"3599.0"` and an
    `expires_on` of `soon`); `refresh` (a day-long token with `ext_expires_in` and `refresh_in`, all strings),
    `refresh-int` (the same as numbers) or `ext-fraction` (`ext_expires_in` and `refresh_in` with a fraction)."""
    token_content_type: str = "application/json; charset=utf-8"
    """The `Content-Type` of the token endpoint's reply (empty: none)."""
    # -- Key Vault ---------------------------------------------------------------------------------
    kv_challenge: str = "resource"
    """The challenge names the audience as `resource=` or `scope=` (with `authorization_uri=`); or
    `legacy-authority` (login.windows.net), `compact` (no space after the comma), `uri-resource`
    (`authorization_uri=` with `resource=`), `authorization-scope` (`authorization=` with `scope=`),
    `authorize-path` (the tenant followed by `/oauth2/authorize`), `realm` (an empty `realm=` first),
    `other-tenant` (the vault's directory is not the credential's), `common` or `organizations` (no directory named)."""
    kv_page_size: int | None = None
    """Page key lists at this many whatever `maxresults` said."""
    kv_next_link: str = "next"
    """`next`: each key-list page links to the following one; `loop`: every page links to the second again;
    `elsewhere`: the link names `kv_next_host` (another host, which must never see the vault's token);
    `relative`: a path without scheme or host; `home`: the vault's own `vaultUri` host (Key Vault writes its
    links with it, wherever the vault was reached); `loopback`: the fake's host spelt `127.0.0.1`."""
    kv_next_host: str = ""
    kv_api_version: str = ""
    """Serve only this Key Vault API version (Azure Stack Hub: 7.1 or 2016-10-01); any other gets 400
    `BadParameter`: `The specified version (X) is not recognized. Consider using the latest supported version (Y).`"""
    kv_managed_in_get_only: bool = False
    """`managed: true` (a certificate's key) only in `GET /keys/{name}`, not in the listing."""
    kv_no_attributes: str = ""
    """Leave `attributes` out of key replies: `list` (the key listing), `both` (the listing and `GET /keys/{name}`)
    or `everywhere` (those and ARM's key listing)."""
    kv_key_without_key: bool = False
    """`GET /keys/{name}` answers the attributes without the `key` (JSON web key) object."""
    kv_policy_body: object = None
    """When set, the body of every rotation-policy reply instead of the policy."""
    kv_modulus_zero: bool = False
    """RSA moduli carry a leading zero octet (RFC 7518 6.3.1.1: some libraries send 257 octets for 2048 bits)."""
    kv_key_material: str = ""
    """When set (base64url text), every key bundle carries it as key material: the RSA modulus `n`, and
    the private and symmetric members (`d`, `p`, `q`, `k`) a key must never come back with, for a canary."""
    kv_default_policy: bool = False
    """A key that never had a rotation policy answers 200 with the service's default one (no `id`, one
    `Notify` action 30 days before expiry, empty `attributes`), as Key Vault does, not 404."""
    kv_policy_refusal: str = ""
    """The inner error code of a refused rotation-policy read (`ForbiddenByRbac`, `ForbiddenByPolicy`)."""
    kv_vault_refusal: str = ""
    """The inner error code of a vault's 403 (`faults.forbidden_vaults`): `ForbiddenByFirewall`,
    `ForbiddenByPolicy`, `ForbiddenByRbac`, `ForbiddenByConnection`, with the message Key Vault sends (lines
    naming the client address and the caller's appid and oid)."""
    kv_policy_gone: str | None = None
    """This key's rotation policy answers 404 `KeyNotFound` (the key deleted after its own GET)."""
    kv_key_times: str = "int"
    """The same on the data plane (key listing and `GET /keys/{name}`)."""
    arm_key_times: str = "int"
    """ARM's key listing spells `exp`, `nbf`, `created`, `updated` as `int` (the spec), `float`, `string`,
    `iso` (a date) or `junk` (no time at all)."""
    kv_deleted_key: str | None = None
    """This key is still listed but `GET /keys/{name}` answers 404 (deleted between the two reads)."""
