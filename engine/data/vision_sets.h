/* STL10 and SVHN as torchvision reads them (images come out HWC uint8, labels int64).
 *
 * STL10: ROOT/stl10_binary/{train,test}_X.bin (96x96x3 images stored channel-major and
 * column-major, as the dataset's authors wrote them) and {train,test}_y.bin (labels 1..10,
 * given as 0..9 as torchvision does). Samples are read from the file when asked (pread), so
 * memory stays one image per worker. SVHN: ROOT/{train,test,extra}_32x32.mat (MATLAB files
 * read with libmatio: X uint8 32x32x3xN, y the labels 1..10 with 10 meaning digit 0, given as
 * 0..9 as torchvision does). */
#ifndef SB_DATA_VISION_SETS_H
#define SB_DATA_VISION_SETS_H

#include "data/dataset.h"

/* split: "train" or "test". */
sb_status sb_stl10_open(const char *root, const char *split, sb_dataset **out);
/* split: "train", "test" or "extra". */
sb_status sb_svhn_open(const char *root, const char *split, sb_dataset **out);

#endif
