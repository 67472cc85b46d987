// Pixel noise: CPU time of simulate::add_particle_noise (ziggurat normals, core/random.hpp) for
// N images of n × n pixels, against the polar method it replaced, on one core.
// Usage: bench_simulate_noise [n_images = 5000] [side = 116]
#include "pairpose/core/random.hpp"
#include "pairpose/simulate/noise.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

namespace {

// Marsaglia's polar method, two normals per accepted point of the unit disk (the former method).
void polar_noise(float* image, std::int64_t n, double sigma, pairpose::Rng& rng) {
  for (std::int64_t i = 0; i < n; i += 2) {
    double u, v, r2;
    do {
      u = 2.0 * rng.uniform() - 1.0;
      v = 2.0 * rng.uniform() - 1.0;
      r2 = u * u + v * v;
    } while (r2 >= 1.0 || r2 == 0.0);
    const double f = sigma * std::sqrt(-2.0 * std::log(r2) / r2);
    image[i] += static_cast<float>(u * f);
    if (i + 1 < n) image[i + 1] += static_cast<float>(v * f);
  }
}

double cpu_seconds() { return double(std::clock()) / CLOCKS_PER_SEC; }

} // namespace

int main(int argc, char** argv) {
  const long n_images = argc > 1 ? std::atol(argv[1]) : 5000;
  const long side = argc > 2 ? std::atol(argv[2]) : 116;
  std::vector<float> image(side * side, 0.0f);
  double checksum = 0;
  for (int repeat = 0; repeat < 3; ++repeat) {
    double t0 = cpu_seconds();
    for (long p = 0; p < n_images; ++p)
      pairpose::simulate::add_particle_noise(image.data(), side * side, 1.0, 1, p);
    const double ziggurat = cpu_seconds() - t0;
    t0 = cpu_seconds();
    for (long p = 0; p < n_images; ++p) {
      pairpose::Rng rng(1, pairpose::stream_noise, p);
      polar_noise(image.data(), side * side, 1.0, rng);
    }
    const double polar = cpu_seconds() - t0;
    checksum += image[0];
    std::printf(
        "%ld images of %ld px: ziggurat %.3f s, polar %.3f s CPU (%.1f / %.1f ns a pixel)\n",
        n_images, side, ziggurat, polar, 1e9 * ziggurat / (n_images * side * side),
        1e9 * polar / (n_images * side * side));
  }
  std::printf("(checksum %g)\n", checksum);
}
