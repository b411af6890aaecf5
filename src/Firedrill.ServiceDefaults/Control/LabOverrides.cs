using Microsoft.Extensions.Configuration;

namespace Firedrill.ServiceDefaults.Control;

/// <summary>
/// Configuration overrides written at run time by the lab (<c>PUT /_lab/config</c>). It is the
/// last configuration source, so its keys win; every change triggers a reload, which is how
/// options read through <c>IOptionsMonitor&lt;T&gt;</c> switch faults and fixes without a restart.
/// </summary>
public sealed class LabOverrides : ConfigurationProvider, IConfigurationSource
{
    private readonly Lock _gate = new();

    public IConfigurationProvider Build(IConfigurationBuilder builder) => this;

    public IReadOnlyDictionary<string, string> Snapshot()
    {
        lock (_gate)
        {
            return Data.Where(pair => pair.Value is not null)
                .ToDictionary(pair => pair.Key, pair => pair.Value!, StringComparer.OrdinalIgnoreCase);
        }
    }

    /// <summary>Sets (or, for a null value, removes) each key, then reloads once.</summary>
    public void Apply(IReadOnlyDictionary<string, string?> changes)
    {
        lock (_gate)
        {
            foreach (var (key, value) in changes)
            {
                if (value is null)
                {
                    Data.Remove(key);
                }
                else
                {
                    Data[key] = value;
                }
            }
        }

        OnReload();
    }

    /// <summary>Replaces every override with <paramref name="overrides"/>, then reloads once.</summary>
    public void Replace(IReadOnlyDictionary<string, string> overrides)
    {
        lock (_gate)
        {
            Data = new Dictionary<string, string?>(
                overrides.Select(pair => KeyValuePair.Create(pair.Key, (string?)pair.Value)),
                StringComparer.OrdinalIgnoreCase);
        }

        OnReload();
    }
}
