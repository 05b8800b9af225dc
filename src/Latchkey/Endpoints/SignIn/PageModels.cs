namespace Latchkey.Endpoints.SignIn;

/// <summary>What every hosted page shows (the product name, the title) and the nonce its one style block (and script) carry.</summary>
public abstract record PageModel(string Brand, string Title, string Nonce);

/// <summary>
/// The login form. <paramref name="Request"/> is the authorization request, carried through the form and checked again when
/// the form comes back; <paramref name="Error"/> is generic, never which of username or password was wrong.
/// </summary>
public sealed record LoginPage(string Brand, string Nonce, string Action, string ClientId, string Request, string AntiforgeryFieldName, string AntiforgeryToken,
    string? Username, string? Error) : PageModel(Brand, "Sign in", Nonce)
{
    /// <summary>"Sign in with a passkey": the ceremony, and where its answer is posted.</summary>
    public Accounts.PasskeyRequest? Passkey { get; init; }
    public string? PasskeyAction { get; init; }
}

/// <summary>
/// The second step of a sign-in: the code from the user's authenticator app, or a recovery code. <paramref name="Pending"/>
/// carries the first step (<see cref="PendingSignIns"/>), <paramref name="Request"/> what comes after it.
/// </summary>
public sealed record SecondFactorPage(string Brand, string Nonce, string Action, string Lead, string Request, string Pending, string AntiforgeryFieldName,
    string AntiforgeryToken, string? Error) : PageModel(Brand, "Confirm it's you", Nonce)
{
    /// <summary>Whether the user has an authenticator app (its code is asked for), and the passkey ceremony when they have a passkey.</summary>
    public bool Totp { get; init; } = true;
    public Accounts.PasskeyRequest? Passkey { get; init; }

    /// <summary>Only a passkey reaches what the app asked for (a step-up to <c>phr</c>): no code is offered.</summary>
    public bool PasskeyOnly { get; init; }
}

/// <summary>
/// Setting up an authenticator app during a sign-in, for a user who must have a second factor and has none: the key, its QR
/// code, and the first code to confirm it. <paramref name="Pending"/> carries the password step.
/// </summary>
public sealed record EnrolPage(string Brand, string Nonce, string Action, string Lead, string Request, string Pending, string Secret, string QrCodeDataUri,
    string AntiforgeryFieldName, string AntiforgeryToken, string? Error) : PageModel(Brand, "Set up an authenticator app", Nonce)
{
    /// <summary>The other way to a second factor: a passkey, made by the ceremony this carries.</summary>
    public Accounts.PasskeyCeremony? PasskeyRegistration { get; init; }
}

/// <summary>The recovery codes made with a new authenticator app, shown once, and the way on to the app.</summary>
public sealed record RecoveryCodesPage(string Brand, string Nonce, IReadOnlyList<string> Codes, string ClientId, string ContinueUrl)
    : PageModel(Brand, "Your recovery codes", Nonce);

/// <summary>
/// The user's own account page: their authenticator app (on, being set up with its key and QR code, or off), the recovery
/// codes just made (shown once), and whether their sign-in is recent enough (<paramref name="Fresh"/>) to change any of it.
/// </summary>
public sealed record AccountPage(string Brand, string Nonce, string Action, string Username, bool TotpEnabled, int RecoveryCodesLeft,
    Accounts.TotpEnrolment? Enrolment, string? QrCodeDataUri, IReadOnlyList<string>? RecoveryCodes, bool Fresh, int FreshMinutes, string AntiforgeryFieldName,
    string AntiforgeryToken, string? Notice, string? Error) : PageModel(Brand, "Your account", Nonce)
{
    /// <summary>The user's live sessions, and which one this browser is.</summary>
    public IReadOnlyList<Accounts.SessionEntry> Sessions { get; init; } = [];
    public string? CurrentSessionId { get; init; }

    /// <summary>The third-party apps the user allowed.</summary>
    public IReadOnlyList<Accounts.ConsentEntry> Consents { get; init; } = [];

    /// <summary>The user's passkeys, and the ceremony that adds one (only to a recent sign-in).</summary>
    public IReadOnlyList<Accounts.PasskeyEntry> Passkeys { get; init; } = [];
    public Accounts.PasskeyCeremony? PasskeyRegistration { get; init; }
}

/// <summary>A scope, and what it lets the app do, in words.</summary>
public sealed record ScopeDescription(string Name, string Description);

/// <summary>The consent page of a third-party client: the scopes it asks for, with "Allow" and "Deny".</summary>
public sealed record ConsentPage(string Brand, string Nonce, string Action, string ClientId, string Username, IReadOnlyList<ScopeDescription> Scopes, string Request,
    string AntiforgeryFieldName, string AntiforgeryToken) : PageModel(Brand, "Allow access?", Nonce);

/// <summary>An error that cannot be sent back to the app (its redirect URI is unknown or not registered).</summary>
public sealed record ErrorPage(string Brand, string Nonce, string Heading, string Message) : PageModel(Brand, Heading, Nonce);

/// <summary>The <c>form_post</c> response mode: a form that posts the response to the app, submitted by script or by hand.</summary>
public sealed record FormPostPage(string Brand, string Nonce, string Action, IReadOnlyList<KeyValuePair<string, string>> Fields)
    : PageModel(Brand, "Signing you in", Nonce);

/// <summary>The logout confirmation, shown when the app's request carries no valid id token: "Sign out" or "Stay signed in".</summary>
public sealed record LogoutPage(string Brand, string Nonce, string Action, string? Username, string Request, string AntiforgeryFieldName, string AntiforgeryToken)
    : PageModel(Brand, "Sign out", Nonce);

/// <summary>What the browser sees after logout when the app named no place to return to.</summary>
public sealed record SignedOutPage(string Brand, string Nonce, string Heading, string Message) : PageModel(Brand, Heading, Nonce);
