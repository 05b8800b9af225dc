namespace Latchkey.Audit;

/// <summary>The names of audit event types, as stored and as <c>latchkey audit</c> and <c>GET /admin/audit</c> show them.</summary>
public static class AuditEvents
{
    public const string LoginSucceeded = "login_succeeded";
    public const string LoginFailed = "login_failed";

    /// <summary>A lock on logins began (a username from one address, a username from unknown addresses, or an address).</summary>
    public const string LoginLocked = "login_locked";

    /// <summary>A lock on logins ended, with the number of attempts it refused.</summary>
    public const string LoginLockEnded = "login_lock_ended";

    public const string RefreshReuseDetected = "refresh_reuse_detected";
    public const string FamilyRevoked = "family_revoked";
    public const string TokenRevoked = "token_revoked";

    /// <summary>A user's or a client's tokens issued until now are refused from now on.</summary>
    public const string TokensCutOff = "tokens_cut_off";

    public const string ClientAdded = "client_added";
    public const string ClientSecretRotated = "client_secret_rotated";
    public const string ClientScopesChanged = "client_scopes_changed";
    public const string ClientDisabled = "client_disabled";
    public const string ClientEnabled = "client_enabled";
    public const string ClientRemoved = "client_removed";
    public const string KeyRotated = "key_rotated";
    public const string KeyRetired = "key_retired";

    /// <summary>A signing key was revoked (leaked): it no longer signs or verifies, anywhere.</summary>
    public const string KeyRevoked = "key_revoked";

    public const string UserAdded = "user_added";
    public const string UserPasswordSet = "user_password_set";
    public const string UserDisabled = "user_disabled";
    public const string UserEnabled = "user_enabled";
    public const string UserRolesChanged = "user_roles_changed";
    public const string UserLoggedOut = "user_logged_out";
    public const string UserProfileChanged = "user_profile_changed";

    /// <summary>A browser sign-in began (the hosted login page); its session id is in the detail.</summary>
    public const string SessionStarted = "session_started";

    /// <summary>A browser sign-in ended: logout, a cut-off of the user's tokens, or a new login in the same browser.</summary>
    public const string SessionEnded = "session_ended";

    /// <summary>A user allowed a third-party client scopes on the consent page.</summary>
    public const string ConsentGranted = "consent_granted";

    /// <summary>A consent was withdrawn (CLI or admin API): the client's refresh tokens for the user are revoked.</summary>
    public const string ConsentRevoked = "consent_revoked";

    /// <summary>An authorization code was redeemed a second time: what was issued from it is revoked (RFC 6749 §4.1.2).</summary>
    public const string CodeReplayed = "authorization_code_replayed";

    /// <summary>A second factor (an authenticator app) was added, removed, used to sign in, or a code for it was wrong.</summary>
    public const string FactorAdded = "factor_added";
    public const string FactorRemoved = "factor_removed";
    public const string FactorUsed = "factor_used";
    public const string FactorFailed = "factor_failed";

    /// <summary>A recovery code was used in place of a second factor; new ones were made.</summary>
    public const string RecoveryCodeUsed = "recovery_code_used";
    public const string RecoveryCodesCreated = "recovery_codes_created";

    /// <summary>An admin removed a user's second factors (identity re-established out of band).</summary>
    public const string MfaReset = "mfa_reset";

    /// <summary>An app asked for a stronger sign-in (<c>acr_values</c>) than the session had: the user was asked for more, or could not give it.</summary>
    public const string StepUpRequired = "step_up_required";
}

/// <summary>The outcomes an audit event records, as stored and shown.</summary>
public static class AuditOutcomes
{
    public const string Success = "success";
    public const string Failure = "failure";

    /// <summary>A login lock began (<see cref="AuditEvents.LoginLocked"/>).</summary>
    public const string Locked = "locked";

    /// <summary>A login lock ended (<see cref="AuditEvents.LoginLockEnded"/>).</summary>
    public const string Unlocked = "unlocked";

    /// <summary>Reuse of a spent refresh token revoked its family (<see cref="AuditEvents.RefreshReuseDetected"/>).</summary>
    public const string FamilyRevoked = "family_revoked";
}
