package dev.gatun.device;

import dev.gatun.bindings.cuda.CudaAvailability;
import dev.gatun.bindings.cuda.CudaDriver;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DevicesTest {
    @Test
    void missingCudaIsAValueNotAnException() {
        CudaAvailability cuda = CudaDriver.load();
        if (cuda.available()) return; // a GPU machine: the cuda suite covers it
        assertFalse(cuda.reason().isBlank());
        assertTrue(Devices.cudaUnavailableReason().isPresent());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Devices.get("cuda"));
        assertTrue(e.getMessage().contains("CUDA unavailable"), e.getMessage());
    }

    @Test
    void bestIsCpuWithoutAGpuUnlessOneIsNamed() {
        Device best = Devices.best();
        String named = System.getProperty("gatun.device", System.getenv("GATUN_DEVICE"));
        if (named == null && Devices.cudaUnavailableReason().isPresent()) assertEquals(DeviceKind.CPU, best.kind());
        assertTrue(best == Devices.best(), "one device object per process");
    }

    @Test
    void namesAreCheckedWithAClearMessage() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Devices.get("tpu"));
        assertTrue(e.getMessage().contains("expected cuda, emu or cpu"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Devices.get("cpu:sse2"));
        assertThrows(IllegalArgumentException.class, () -> Devices.get("cuda:x"));
        assertEquals(DeviceKind.EMU, Devices.get("emu").kind());
        assertTrue(Devices.get("cpu").description().startsWith("cpu: "));
    }

    @Test
    void hostEventsMeasureElapsedTime() throws Exception {
        Device cpu = Devices.get("cpu");
        try (Event start = cpu.newEvent(); Event end = cpu.newEvent()) {
            start.record(cpu.defaultStream());
            Thread.sleep(5);
            end.record(cpu.defaultStream());
            assertTrue(end.elapsedMillisSince(start) >= 4);
        }
    }
}
