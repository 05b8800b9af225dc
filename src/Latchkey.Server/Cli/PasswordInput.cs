namespace Latchkey.Server.Cli;

/// <summary>Reads a new password: from standard input with <c>--password-stdin</c>, else from a terminal without echo.</summary>
internal static class PasswordInput
{
    public static string? Read(bool fromStdin, out string? error)
    {
        error = null;
        if (fromStdin)
        {
            // One line; the newline that `echo` or a here-string adds is not part of the password.
            string? line = Console.In.ReadLine();
            if (line is null)
                error = "--password-stdin was given, but standard input was empty.";
            return line;
        }

        if (Console.IsInputRedirected)
        {
            error = "standard input is not a terminal: pass the password on it with --password-stdin.";
            return null;
        }

        string first = Prompt("Password: ");
        string second = Prompt("Repeat password: ");
        if (first != second)
        {
            error = "the passwords do not match.";
            return null;
        }

        return first;
    }

    private static string Prompt(string label)
    {
        Console.Error.Write(label);
        var password = new System.Text.StringBuilder();
        while (true)
        {
            ConsoleKeyInfo key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
                break;
            if (key.Key == ConsoleKey.Backspace)
            {
                if (password.Length > 0)
                    password.Length--;
            }
            else if (!char.IsControl(key.KeyChar))
            {
                password.Append(key.KeyChar);
            }
        }

        Console.Error.WriteLine();
        return password.ToString();
    }
}
