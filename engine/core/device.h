/* Where memory and work live: the CPU or a CUDA device. The types only; parsing and
 * formatting device names is the tensor core's (tensor/tensor.h). */
#ifndef SB_CORE_DEVICE_H
#define SB_CORE_DEVICE_H

typedef enum sb_device_kind { SB_DEVICE_CPU = 0, SB_DEVICE_CUDA = 1 } sb_device_kind;

typedef struct sb_device {
    sb_device_kind kind;
    int index; /* CUDA ordinal; 0 for CPU */
} sb_device;

#define SB_CPU ((sb_device){SB_DEVICE_CPU, 0})

#endif
