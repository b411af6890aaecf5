using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Firedrill.Inventory.Observability;
using Microsoft.Extensions.DependencyInjection;

namespace Firedrill.Inventory.Tests.Support;

/// <summary>
/// Listens to one instance's <c>Firedrill.Inventory</c> meter (other instances in the test run
/// have meters of their own factory) and keeps the running and peak values of its gauges.
/// </summary>
public sealed class InventoryMeters : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _requests = new(StringComparer.Ordinal);
    private long _inFlight;
    private long _maxInFlight;
    private long _queued;
    private long _maxQueued;

    public InventoryMeters(InventoryInstance instance)
    {
        var factory = instance.Services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, factory) && instrument.Meter.Name == InventoryMetrics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>(OnMeasurement);
        _listener.Start();
    }

    public long InFlight => Interlocked.Read(ref _inFlight);

    public long MaxInFlight => Interlocked.Read(ref _maxInFlight);

    public long MaxQueued => Interlocked.Read(ref _maxQueued);

    public long Requests(string outcome) => _requests.GetValueOrDefault(outcome);

    /// <summary>Waits, bounded, until <paramref name="condition"/> holds; fails the test otherwise.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        var started = Stopwatch.GetTimestamp();
        while (!condition())
        {
            Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(10), $"timed out waiting until {what}");
            await Task.Delay(20);
        }
    }

    private void OnMeasurement(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        switch (instrument.Name)
        {
            case InventoryMetrics.InFlightName:
                Raise(ref _maxInFlight, Interlocked.Add(ref _inFlight, value));
                break;
            case InventoryMetrics.QueuedName:
                Raise(ref _maxQueued, Interlocked.Add(ref _queued, value));
                break;
            case InventoryMetrics.RequestsName:
                foreach (var tag in tags)
                {
                    if (tag.Key == "outcome")
                    {
                        _requests.AddOrUpdate((string)tag.Value!, value, (_, total) => total + value);
                    }
                }

                break;
        }
    }

    private static void Raise(ref long max, long value)
    {
        var seen = Interlocked.Read(ref max);
        while (value > seen)
        {
            var previous = Interlocked.CompareExchange(ref max, value, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }

    public void Dispose() => _listener.Dispose();
}
