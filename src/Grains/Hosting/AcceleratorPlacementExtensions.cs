using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.MembershipService.SiloMetadata;
using RlhfActors.Grains.Device;
using RlhfActors.Grains.Placement;

namespace RlhfActors.Grains.Hosting;

public static class AcceleratorPlacementExtensions
{
    /// <summary>
    /// Advertises this silo's devices as silo metadata, registers the <see cref="AcceleratorPlacementAttribute"/>
    /// and <see cref="ControlPlanePlacementAttribute"/> directors that read them, and the <see cref="DeviceAllocator"/> that hands heavy grains their device.
    /// </summary>
    /// <param name="hardware">This silo's hardware; unset figures are detected now, at silo build time, because
    /// silo metadata is fixed for the silo's lifetime.</param>
    public static ISiloBuilder AddAcceleratorPlacement(this ISiloBuilder silo, SiloHardwareOptions hardware)
    {
        ArgumentNullException.ThrowIfNull(hardware);
        hardware.Validate();
        var resolved = hardware.Resolve();
        resolved.Validate();
        silo.UseSiloMetadata(HardwareMetadata.From(resolved));
        silo.Services.AddSingleton(new DeviceAllocator(resolved));
        silo.Services.AddPlacementDirector<AcceleratorPlacementStrategy, AcceleratorPlacementDirector>();
        silo.Services.AddPlacementDirector<ControlPlanePlacementStrategy, ControlPlanePlacementDirector>();
        return silo;
    }
}
