using Firedrill.Lab.Diagnostics;

namespace Firedrill.Lab.Tests.Diagnostics;

/// <summary>The diagnostics tools' reports as they print them (excerpts of real output), read back.</summary>
public sealed class ToolReportsTests
{
    private const string Stacks = """
        Thread (0x40A9):
          [Native Frames]
          System.Private.CoreLib!System.Threading.Monitor.Wait(class System.Object,int32)
          System.Private.CoreLib!System.Threading.ManualResetEventSlim.Wait(int32,value class System.Threading.CancellationToken)
          System.Private.CoreLib!System.Runtime.CompilerServices.TaskAwaiter`1[System.__Canon].GetResult()
          Firedrill.Shop!Firedrill.Shop.Features.Catalog.AvailabilityLookup.BlockingInventoryLookup(class Product)
          Firedrill.Shop!Firedrill.Shop.Features.Catalog.CatalogEndpoints.GetAvailabilityAsync(int64)

        Thread (0x40AA):
          [Native Frames]
          System.Private.CoreLib!System.Threading.ManualResetEventSlim.Wait(int32,value class System.Threading.CancellationToken)
          System.Private.CoreLib!System.Runtime.CompilerServices.TaskAwaiter`1[System.__Canon].GetResult()
          Firedrill.Shop!Firedrill.Shop.Features.Catalog.AvailabilityLookup.BlockingInventoryLookup(class Product)

        Thread (0x40B1):
          [Native Frames]
          System.Private.CoreLib!System.Threading.LowLevelLifoSemaphore.WaitForSignal(int32)
          System.Private.CoreLib!System.Threading.PortableThreadPool+WorkerThread.WorkerThreadStart()
        """;

    private const string Heap = """
        Warning: the target runtime does not support non-lossy (Block) buffering, which requires .NET 11+.
             15,762,240  GC Heap bytes
                 48,796  GC Heap objects
                 90,187  Total references

           Object Bytes     Count  Type
                144,168        65  OpenTelemetry.Metrics.MetricPoint[] (Bytes > 100K)  [OpenTelemetry.dll]
                 40,000         2  OpenTelemetry.Metrics.MetricPoint[] (Bytes > 10K)  [OpenTelemetry.dll]
                     40     1,600  Firedrill.Shop.Features.Catalog.ProductPage  [Firedrill.Shop.dll]
                     22     8,922  System.String  [System.Private.CoreLib.dll]
        """;

    [Fact]
    public void StackReport_GroupsThreadsByTheCallTheShopBlocksIn()
    {
        var report = StackReport.Parse(Stacks);

        var groups = report.GroupByBlockingFrame("Firedrill.");

        Assert.Equal(3, report.Threads.Count);
        Assert.Equal(new ThreadGroup("System.Runtime.CompilerServices.TaskAwaiter`1[System.__Canon].GetResult",
            "Firedrill.Shop.Features.Catalog.AvailabilityLookup.BlockingInventoryLookup", 2), groups[0]);
        Assert.Equal(new ThreadGroup("System.Threading.LowLevelLifoSemaphore.WaitForSignal", "-", 1), groups[1]);
    }

    [Fact]
    public void HeapReport_TotalsAndTypesAsSizeTimesCount_BucketsMerged()
    {
        var heap = HeapReport.Parse(Heap);

        Assert.Equal(15_762_240, heap.Bytes);
        Assert.Equal(48_796, heap.Objects);
        Assert.Equal((144_168L * 65 + 40_000 * 2, 67L), heap.Types["OpenTelemetry.Metrics.MetricPoint[]"]);
        Assert.Equal((64_000L, 1_600L), heap.Types["Firedrill.Shop.Features.Catalog.ProductPage"]);
    }

    [Fact]
    public void HeapReport_GrowthSince_NamesTheGrowingTypesLargestFirst()
    {
        var before = HeapReport.Parse(Heap);
        var after = HeapReport.Parse(Heap.Replace("     40     1,600  Firedrill", "     40     3,600  Firedrill", StringComparison.Ordinal));

        var growth = after.GrowthSince(before);

        Assert.Equal(new TypeGrowth("Firedrill.Shop.Features.Catalog.ProductPage", 80_000, 2_000, 3_600), Assert.Single(growth));
    }
}
