namespace Latchkey.Endpoints;

/// <summary>Authorization policies of Latchkey's endpoints. Both authenticate with Latchkey's own bearer scheme only.</summary>
public static class LatchkeyPolicies
{
    /// <summary>Any valid Latchkey access token.</summary>
    public const string Bearer = "Latchkey.Bearer";

    /// <summary>A valid access token whose <c>role</c> includes <c>admin</c>.</summary>
    public const string Admin = "Latchkey.Admin";
}
