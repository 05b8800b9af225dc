namespace Latchkey.Storage;

/// <summary>Values the whole deployment shares and sets once, by name (such as the master key's check value).</summary>
public interface ISettingsStore
{
    /// <summary>The value stored under <paramref name="name"/>; when there is none yet, stores <paramref name="value"/> and returns it. Atomic across nodes.</summary>
    Task<string> GetOrAddAsync(string name, string value, CancellationToken cancellationToken);
}
