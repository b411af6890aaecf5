using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Reports;

public sealed class ReportsOptions
{
    public const string SectionName = "Reports";

    /// <summary>The longest period a sales report may cover, in days.</summary>
    [Range(1, 3660)]
    public int MaxDays { get; set; } = 1096;
}

[OptionsValidator]
internal sealed partial class ReportsOptionsValidator : IValidateOptions<ReportsOptions>;
