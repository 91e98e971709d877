/* ImageNet (ILSVRC2012) as torchvision.datasets.ImageNet prepares it.
 *
 * The prepared layout is ROOT/<split>/<wnid>/<image>.JPEG (an ImageFolder: class index =
 * sorted WNIDs). From the two official archives in ROOT, ILSVRC2012_devkit_t12.tar.gz and
 * ILSVRC2012_img_val.tar (md5-checked), it is made once, as torchvision makes it: the
 * devkit's data/meta.mat (read with libmatio) gives each leaf synset's WNID and names, its
 * validation ground truth the class of each validation image (in sorted file order); the
 * images go to val/<wnid>/. The class names are kept in ROOT/sbengine_meta.tsv
 * (`WNID<TAB>name, name, ...` per line), sbengine's stand-in for torchvision's meta.bin. */
#ifndef SB_DATA_IMAGENET_H
#define SB_DATA_IMAGENET_H

#include "core/error.h"

#define SB_IMAGENET_DEVKIT "ILSVRC2012_devkit_t12.tar.gz"
#define SB_IMAGENET_VAL "ILSVRC2012_img_val.tar"
#define SB_IMAGENET_META "sbengine_meta.tsv"
/* The most the archives may hold (the real ones: 2.6 MB inflated, 6.7 GB). */
#define SB_IMAGENET_DEVKIT_MAX ((size_t)64 << 20)
#define SB_IMAGENET_VAL_MAX ((size_t)8 << 30)
extern const char *const sb_imagenet_devkit_md5; /* the published md5s */
extern const char *const sb_imagenet_val_md5;

/* Makes ROOT/val and ROOT/sbengine_meta.tsv from the archives where they are missing (a
 * prepared ROOT/<split> without the devkit archive is accepted as it is: no names).
 * md5s NULL = the published ones. Only split "val" can be prepared from archives here. A
 * missing archive is an error that says where to get it and where to put it. */
sb_status sb_imagenet_prepare(const char *root, const char *split, const char *devkit_md5,
                              const char *val_md5);

/* Parses the devkit's meta.mat: writes `WNID<TAB>names` of the leaf synsets (those with no
 * children), in ILSVRC2012_ID order, to `tsv_path`, and fills idx_to_wnid[id - 1] (ids
 * 1..*count; strings of 9 characters + NUL, capacity for 2000 ids). */
sb_status sb_imagenet_parse_meta(const char *mat_path, const char *tsv_path,
                                 char (*idx_to_wnid)[16], int *count);

#endif
