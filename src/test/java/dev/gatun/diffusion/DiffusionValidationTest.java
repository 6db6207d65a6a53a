package dev.gatun.diffusion;

import dev.gatun.device.Device;
import dev.gatun.device.Devices;
import dev.gatun.ops.DiffusionOps;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static dev.gatun.diffusion.NoiseScheduleTest.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Bad arguments are rejected in Java with a message naming what was expected, before any native call. */
class DiffusionValidationTest {
    static DiffusionOps.SampleStep unit() { return new DiffusionOps.SampleStep(1, 0.5, 0, 0, 1, 0, 1, 0, 0, 0); }

    @Test
    void opChecksShapesDtypesAliasingAndCoefficients() {
        Device cpu = Devices.get("cpu");
        DiffusionOps.SampleStep[] two = {unit(), unit()};
        try (Tensor x = Tensor.empty(cpu, DType.F32, 2, 8); Tensor m = Tensor.empty(cpu, DType.F32, 2, 8);
             Tensor m3 = Tensor.empty(cpu, DType.F32, 3, 8); Tensor mh = Tensor.empty(cpu, DType.F16, 2, 8);
             Tensor m4 = Tensor.empty(cpu, DType.F32, 4, 8); Tensor out = Tensor.empty(cpu, DType.F32, 2, 8);
             Tensor wrong = Tensor.empty(cpu, DType.F32, 2, 9)) {
            x.fillBytes((byte) 0);
            m.fillBytes((byte) 0);
            m4.fillBytes((byte) 0);
            assertMessage("model must be a contiguous fp32 tensor [n or 2n, 8]", () -> DiffusionOps.step(x, m3, null, out, null, two));
            assertMessage("model must be", () -> DiffusionOps.step(x, mh, null, out, null, two));
            assertMessage("out must match x", () -> DiffusionOps.step(x, m, null, wrong, null, two));
            assertMessage("2 samples but 1 sample steps", () -> DiffusionOps.step(x, m, null, out, null, new DiffusionOps.SampleStep[] {unit()}));
            assertMessage("out must not overlap model", () -> DiffusionOps.step(x, m, null, m, null, two));
            assertMessage("x0Out must not overlap x", () -> DiffusionOps.step(x, m, null, out, x, two));
            assertMessage("guidance rescale needs a [cond | uncond] model batch", () -> DiffusionOps.step(x, m, null, out, null,
                    new DiffusionOps.SampleStep[] {unit().withGuidance(3, 0.5), unit()}));
            assertMessage("coefficient b must be a finite fp32 number", () -> new DiffusionOps.SampleStep(1, Double.NaN, 0, 0, 0, 0, 1, 0, 0, 0));
            assertMessage("coefficient d must be a finite fp32 number", () -> new DiffusionOps.SampleStep(1, 0, 0, 1e300, 0, 0, 1, 0, 0, 0));
            assertMessage("guidance scale must be finite", () -> unit().withGuidance(Double.POSITIVE_INFINITY, 0));
            DiffusionOps.step(x, m4, null, x, null, two);  // CFG batch of 2n, in place: accepted
        }
    }

    @Test
    void samplerChecksBatchGuidanceLayoutAndRunsOut() {
        Device cpu = Devices.get("cpu");
        try (DiffusionSampler sm = DiffusionSampler.create(SamplerConfig.of(SamplerKind.EULER, PredictionType.EPSILON, 2),
                NoiseSchedule.stableDiffusion(), 2, 1);
             Tensor x = Tensor.empty(cpu, DType.F32, 2, 4); Tensor x3 = Tensor.empty(cpu, DType.F32, 3, 4);
             Tensor m = Tensor.empty(cpu, DType.F32, 2, 4); Tensor m4 = Tensor.empty(cpu, DType.F32, 4, 4)) {
            x.fillBytes((byte) 0);
            m.fillBytes((byte) 0);
            m4.fillBytes((byte) 0);
            assertMessage("x must be [2, ...]", () -> sm.step(x3, m, null));
            assertMessage("model output must have 4 rows ([cond | uncond] for guidance)", () -> sm.step(x, m, Guidance.of(5)));
            assertMessage("model output must have 2 rows (no guidance)", () -> sm.step(x, m4, null));
            sm.step(x, m4, Guidance.of(5));
            sm.step(x, m, null);
            assertEquals(2, sm.stepIndex());
            assertThrows(IllegalStateException.class, () -> sm.step(x, m, null), "runs out after its steps");
        }
        assertMessage("batch must be >= 1", () -> DiffusionSampler.create(SamplerConfig.of(SamplerKind.DDIM, PredictionType.EPSILON, 2),
                NoiseSchedule.stableDiffusion(), 0, 1));
        assertMessage("DDIM needs a noise schedule", () -> DiffusionSampler.create(SamplerConfig.of(SamplerKind.DDIM, PredictionType.EPSILON, 2), null, 1, 1));
    }
}
