using ArchUnitNET.Domain;
using ArchUnitNET.Loader;

namespace Latchkey.Tests;

/// <summary>
/// The dependency rules of src/Latchkey (docs/ARCHITECTURE.md), checked on the compiled library as ArchUnitNET reads it:
/// every type a type uses, in signatures and in method bodies alike. A forbidden <c>using</c> fails here, with the types
/// that broke the rule.
/// </summary>
public sealed class ArchitectureTests
{
    private static readonly Architecture Library = new ArchLoader().LoadAssemblies(typeof(Jwt).Assembly).Build();

    /// <summary>Folder → folders it uses, with the type pairs behind each edge.</summary>
    private static readonly Dictionary<string, Dictionary<string, SortedSet<string>>> Uses = FolderGraph();

    private const string Facade = "the Jwt facade";
    private const string CompositionRoot = "the composition root";
    private const string Vocabulary = "the options";

    [Fact]
    public void NoFolderDependsOnAnotherThatDependsBackOnIt()
    {
        IReadOnlyList<IReadOnlyList<string>> cycles = Cycles();
        Assert.True(cycles.Count == 0, "Folders in a cycle:\n" + string.Join("\n", cycles.Select(Describe)));
    }

    [Theory]
    [InlineData("Jose", "Endpoints")]
    [InlineData("Protocol", "Endpoints")]
    [InlineData("Storage", "Endpoints")]
    [InlineData("Grants", "Storage")]
    [InlineData("Endpoints", "Storage")]
    [InlineData("Jose", Facade)]
    public void FolderDoesNotUse(string folder, string forbidden)
    {
        Assert.True(Library.Types.Any(t => FolderOf(t) == folder), $"no types in {folder}: the rule checks nothing");
        SortedSet<string> pairs = Uses.TryGetValue(folder, out var targets) && targets.TryGetValue(forbidden, out var found) ? found : [];
        Assert.True(pairs.Count == 0, $"{folder} must not use {forbidden}, but: {string.Join(", ", pairs)}");
    }

    /// <summary>The server's own code never goes through the public one-call API; only the public surface may.</summary>
    [Fact]
    public void NoFolderGoesThroughTheFacade()
    {
        string[] users = Uses.Where(u => u.Key != CompositionRoot && u.Value.ContainsKey(Facade)).Select(u => $"{u.Key}: {string.Join(", ", u.Value[Facade])}").ToArray();
        Assert.True(users.Length == 0, "Uses the Jwt facade: " + string.Join("; ", users));
    }

    /// <summary>The options and the startup exception, which every folder may use, use no folder themselves.</summary>
    [Fact]
    public void TheOptionsUseNoFolder()
    {
        Assert.True(!Uses.TryGetValue(Vocabulary, out var targets) || targets.Count == 0,
            "The options use: " + string.Join("; ", targets?.Select(t => $"{t.Key} ({string.Join(", ", t.Value)})") ?? []));
    }

    [Fact]
    public void NothingButTheHostUsesTheCompositionRoot()
    {
        string[] users = Uses.Where(u => u.Value.ContainsKey(CompositionRoot)).Select(u => $"{u.Key}: {string.Join(", ", u.Value[CompositionRoot])}").ToArray();
        Assert.True(users.Length == 0, "Uses AddLatchkey/MapLatchkey: " + string.Join("; ", users));
    }

    [Theory]
    [InlineData("Tokens")]
    [InlineData("Keys")]
    [InlineData("Accounts")]
    public void FolderKnowsNoHttp(string folder)
    {
        string[] http = Library.Types.Where(t => FolderOf(t) == folder)
            .SelectMany(t => t.Dependencies.Where(d => d.Target?.Namespace?.FullName.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal) == true)
                .Select(d => $"{t.Name} → {d.Target!.FullName}"))
            .Distinct().ToArray();
        Assert.True(http.Length == 0, $"{folder} uses ASP.NET Core: {string.Join(", ", http)}");
    }

    /// <summary>
    /// The folder a type belongs to: its namespace under <c>Latchkey.</c>. The public types in the root namespace (so that
    /// <c>using Latchkey;</c> is all a user needs) are placed by what they are: the JOSE failures and algorithm names belong to
    /// Jose; <c>Jwt</c> is the facade; the options and the startup exception are shared vocabulary; the extension methods
    /// <c>AddLatchkey</c> and <c>MapLatchkey</c> (and the options' validator, which asks each folder) are the composition root.
    /// </summary>
    private static string? FolderOf(IType type)
    {
        string ns = type.Namespace?.FullName ?? "";
        if (type.Assembly?.FullName != Library.Assemblies.Single().FullName)
            return null;
        if (ns.StartsWith("Latchkey.", StringComparison.Ordinal))
            return ns.Split('.')[1];
        string name = TopLevelName(type);
        return name switch
        {
            "Jwt" => Facade,
            "LatchkeyServiceCollectionExtensions" or "LatchkeyEndpointRouteBuilderExtensions" or "LatchkeyOptionsValidator" => CompositionRoot,
            "JwtAlgorithms" or "JwtDecodeOptions" or "JwtFailure" => "Jose",
            _ when name.StartsWith("Jwt", StringComparison.Ordinal) && name.EndsWith("Exception", StringComparison.Ordinal) => "Jose",
            _ when ns == "Latchkey" => Vocabulary,
            _ => null, // generated code outside Latchkey's namespaces (regular expressions, JSON), placed by what it serves
        };
    }

    /// <summary>The outermost type's name: nested and compiler-generated types belong where their container does.</summary>
    private static string TopLevelName(IType type)
    {
        string name = type.FullName;
        string ns = type.Namespace?.FullName ?? "";
        if (ns.Length > 0 && name.StartsWith(ns + ".", StringComparison.Ordinal))
            name = name[(ns.Length + 1)..];
        int cut = name.IndexOfAny(['+', '`', '<']);
        return cut > 0 ? name[..cut] : name;
    }

    private static Dictionary<string, Dictionary<string, SortedSet<string>>> FolderGraph()
    {
        var uses = new Dictionary<string, Dictionary<string, SortedSet<string>>>();
        foreach (IType type in Library.Types)
        {
            if (FolderOf(type) is not { } from)
                continue;
            foreach (ArchUnitNET.Domain.Dependencies.ITypeDependency dependency in type.Dependencies)
            {
                if (dependency.Target is not { } target || target is GenericParameter || FolderOf(target) is not { } to || to == from)
                    continue;
                if (!uses.TryGetValue(from, out var targets))
                    uses[from] = targets = [];
                if (!targets.TryGetValue(to, out var pairs))
                    targets[to] = pairs = [];
                pairs.Add($"{type.Name} → {target.Name}");
            }
        }

        return uses;
    }

    /// <summary>Every strongly connected group of two or more folders (Tarjan's algorithm): each is at least one cycle.</summary>
    private static IReadOnlyList<IReadOnlyList<string>> Cycles()
    {
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var groups = new List<IReadOnlyList<string>>();
        foreach (string folder in Uses.Keys.Concat(Uses.Values.SelectMany(v => v.Keys)).Distinct().Order())
        {
            if (!index.ContainsKey(folder))
                Visit(folder);
        }

        return groups;

        void Visit(string folder)
        {
            index[folder] = low[folder] = index.Count;
            stack.Push(folder);
            onStack.Add(folder);
            foreach (string next in Uses.TryGetValue(folder, out var targets) ? targets.Keys.ToArray() : [])
            {
                if (!index.ContainsKey(next))
                {
                    Visit(next);
                    low[folder] = Math.Min(low[folder], low[next]);
                }
                else if (onStack.Contains(next))
                {
                    low[folder] = Math.Min(low[folder], index[next]);
                }
            }

            if (low[folder] != index[folder])
                return;
            var group = new List<string>();
            string member;
            do
            {
                member = stack.Pop();
                onStack.Remove(member);
                group.Add(member);
            }
            while (member != folder);
            if (group.Count > 1)
                groups.Add(group);
        }
    }

    private static string Describe(IReadOnlyList<string> group) =>
        string.Join("\n", group.SelectMany(from => Uses[from].Where(t => group.Contains(t.Key))
            .Select(t => $"  {from} → {t.Key}: {string.Join(", ", t.Value.Take(4))}{(t.Value.Count > 4 ? ", …" : "")}")));
}
