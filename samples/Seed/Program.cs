// The seed tutorial, "JWT Token Creation with FastAPI", step for step in C#.
// It is a teaching sample: the real server (`latchkey serve`) is what to run in production.
using Latchkey;

// Step 1: the user data that goes inside the token.
var user_data = new Dictionary<string, object> { ["sub"] = "user123", ["role"] = "admin" };

// Step 2: the secret key that signs it.
const string SECRET_KEY = "mysecretkey123";

// Step 3: jwt.encode(user_data, SECRET_KEY, algorithm="HS256").
// allowShortHmacKey: "mysecretkey123" is 14 bytes, and RFC 7518 §3.2 requires at least 32 for HS256.
// A secret that short can be brute-forced offline from any single token, after which anyone can mint
// tokens for any user. We accept it here only so the output matches the tutorial byte for byte;
// outside a tutorial use a random 32-byte secret, or let `latchkey serve` sign with ES256.
var token = Jwt.Encode(user_data, SECRET_KEY, algorithm: "HS256", allowShortHmacKey: true);

// Step 4: GET /token returns {"access_token": token}.
var app = WebApplication.CreateBuilder(args).Build();
app.MapGet("/token", () => Results.Json(new { access_token = token }));
app.Run();

/// <summary>Visible to the tests, which start this sample over real HTTP.</summary>
public partial class Program;
