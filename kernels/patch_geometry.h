// patch_geometry.h — where a DiT's 3D patchify puts each latent element, one definition for the
// kernels (dit.cuh) and the cpu device (native/cpu/dit.cpp). Tokens [B, F/pt, (H/ph)(W/pw),
// C·pt·ph·pw] with features in Conv3d order (channel, then dt, dh, dw) against the latent
// [B, C, F, H, W].
#pragma once

#include "host_device.h"

namespace gatun {

struct PatchGeometry {
    long long c, f, h, w, pt, ph, pw;

    // The element of the latent that tokens element i holds (patchify reads it, unpatchify writes it).
    GATUN_HOST_DEVICE long long latent_index(long long i) const {
        const long long patch = c * pt * ph * pw, sw = w / pw, s_count = (h / ph) * sw, t_count = f / pt;
        long long feat = i % patch, rest = i / patch;
        const long long s = rest % s_count;
        rest /= s_count;
        const long long t = rest % t_count, b = rest / t_count;
        const long long dw = feat % pw, dh = (feat / pw) % ph, dt = (feat / (pw * ph)) % pt, ch = feat / (pw * ph * pt);
        const long long z = t * pt + dt, yy = (s / sw) * ph + dh, xx = (s % sw) * pw + dw;
        return (((b * c + ch) * f + z) * h + yy) * w + xx;
    }
};

}  // namespace gatun
