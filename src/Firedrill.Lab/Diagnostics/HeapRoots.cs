using System.Diagnostics;
using System.Text;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Runtime;

namespace Firedrill.Lab.Diagnostics;

/// <summary>
/// What keeps an object alive in a live process: a heap dump of it (the runtime writes it, as
/// <c>dotnet-dump collect --type Heap</c> does), opened with ClrMD, which finds an instance of a
/// type and the shortest chain of references from a GC root to it — what <c>gcroot</c> prints in
/// <c>dotnet-dump analyze</c>, with each hop's field named and a static field named by its
/// declaring type. Walking a dump file is much faster than reading a live process's memory.
/// </summary>
public static class HeapRoots
{
    /// <summary>The chain from a root to one instance of <paramref name="typeName"/>, one hop a line; or why there is none.</summary>
    public static string PathTo(int pid, string typeName, string ownAssemblyPrefix, string folder)
    {
        var dump = Path.Combine(folder, $"heap-{pid}.dmp");
        var started = Stopwatch.GetTimestamp();
        try
        {
            new DiagnosticsClient(pid).WriteDump(DumpType.WithHeap, dump, logDumpGeneration: false);
            var written = Stopwatch.GetElapsedTime(started);
            return Walk(dump, typeName, ownAssemblyPrefix)
                + $"\n(dump of {new FileInfo(dump).Length / 1048576.0:0} MB written in {written.TotalSeconds:0.0} s, walked in {(Stopwatch.GetElapsedTime(started) - written).TotalSeconds:0.0} s; the dump is deleted)";
        }
        finally
        {
            File.Delete(dump);
        }
    }

    private static string Walk(string dump, string typeName, string ownAssemblyPrefix)
    {
        using var target = DataTarget.LoadDump(dump);
        // ClrMD does not find the DAC by itself here: the runtime's own libmscordaccore.so (FACTS.md), the same version as the replica's.
        var dac = Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "libmscordaccore.so");
        // The runtime's version is not read from the target here (it reads 0.0), hence ignoreMismatch.
        using var runtime = target.ClrVersions[0].CreateRuntime(dac, ignoreMismatch: true);
        var heap = runtime.Heap;
        var statics = StaticFields(runtime, ownAssemblyPrefix);

        var parents = new Dictionary<ulong, ulong>();
        var rootOf = new Dictionary<ulong, ClrRoot>();
        var queue = new Queue<ClrObject>();
        foreach (var root in heap.EnumerateRoots())
        {
            if (root.Object.IsValid && parents.TryAdd(root.Object.Address, 0))
            {
                rootOf[root.Object.Address] = root;
                queue.Enqueue(root.Object);
            }
        }

        while (queue.TryDequeue(out var current))
        {
            if (current.Type?.Name == typeName)
            {
                return Describe(heap, current.Address, parents, rootOf[Origin(current.Address, parents)], statics);
            }

            foreach (var child in current.EnumerateReferences(carefully: false, considerDependantHandles: true))
            {
                if (child.IsValid && parents.TryAdd(child.Address, current.Address))
                {
                    queue.Enqueue(child);
                }
            }
        }

        return $"no {typeName} reachable from a GC root ({parents.Count:N0} objects walked)";
    }

    private static ulong Origin(ulong address, Dictionary<ulong, ulong> parents)
    {
        while (parents[address] != 0)
        {
            address = parents[address];
        }

        return address;
    }

    private static string Describe(ClrHeap heap, ulong found, Dictionary<ulong, ulong> parents, ClrRoot root, Dictionary<ulong, string> statics)
    {
        var chain = new List<ulong>();
        for (var address = found; address != 0; address = parents[address])
        {
            chain.Add(address);
        }

        chain.Reverse();
        var text = new StringBuilder($"GC root: {root.RootKind}\n");
        for (var i = 0; i < chain.Count; i++)
        {
            var obj = heap.GetObject(chain[i]);
            var via = i == 0 ? "" : $"  .{Field(heap.GetObject(chain[i - 1]), chain[i])}";
            var named = statics.TryGetValue(chain[i], out var field) ? $"   <- static {field}" : "";
            text.Append(new string(' ', Math.Min(i, 12) * 2)).Append("-> ").Append(obj.Type?.Name ?? "?")
                .Append($" @{chain[i]:x}").Append(via).Append(named).Append('\n');
        }

        return text.ToString().TrimEnd();
    }

    /// <summary>The field of <paramref name="parent"/> that holds <paramref name="child"/> (an array index for arrays).</summary>
    private static string Field(ClrObject parent, ulong child)
    {
        if (parent.Type is not { } type)
        {
            return "?";
        }

        if (type.IsArray)
        {
            var array = parent.AsArray();
            for (var i = 0; type.ComponentType?.IsObjectReference == true && i < Math.Min(array.Length, 1_000_000); i++)
            {
                if (array.GetObjectValue(i).Address == child)
                {
                    return $"[{i}]";
                }
            }

            return "[struct element]";
        }

        foreach (var field in type.Fields)
        {
            if (field.IsObjectReference && field.ReadObject(parent.Address, interior: false).Address == child)
            {
                return field.Name ?? "?";
            }
        }

        return "(dependent handle or struct field)";
    }

    /// <summary>Every object a static reference field of our own types holds, named Type.Field.</summary>
    private static Dictionary<ulong, string> StaticFields(ClrRuntime runtime, string ownAssemblyPrefix)
    {
        var named = new Dictionary<ulong, string>();
        foreach (var module in runtime.EnumerateModules().Where(module => Path.GetFileName(module.Name ?? "").StartsWith(ownAssemblyPrefix, StringComparison.Ordinal)))
        {
            foreach (var (methodTable, _) in module.EnumerateTypeDefToMethodTableMap())
            {
                if (runtime.GetTypeByMethodTable(methodTable) is not { } type)
                {
                    continue;
                }

                foreach (var field in type.StaticFields.Where(field => field.IsObjectReference))
                {
                    foreach (var domain in runtime.AppDomains)
                    {
                        var value = field.ReadObject(domain);
                        if (value.IsValid)
                        {
                            named.TryAdd(value.Address, $"{type.Name}.{field.Name}");
                        }
                    }
                }
            }
        }

        return named;
    }
}
