/* ImageFolder (torchvision.datasets.ImageFolder): ROOT/<class>/.../<image>.
 *
 * Classes are the sub-folders of ROOT sorted by name (byte order, as Python sorts str),
 * indexed from 0; the images of a class are every file under its folder (links followed)
 * whose name ends, case-insensitively, with one of the extensions (torchvision's
 * IMG_EXTENSIONS by default; other files are skipped), ordered by folder path then file
 * name, classes in order. A class folder with no such file is an error, as in torchvision.
 * Samples are decoded when read (get_sized): uint8 [H, W, 3] of each image's own size. */
#ifndef SB_DATA_IMAGE_FOLDER_H
#define SB_DATA_IMAGE_FOLDER_H

#include "data/dataset.h"

/* torchvision's IMG_EXTENSIONS, NULL-terminated. */
extern const char *const sb_img_extensions[];

/* `name` is the dataset's name ("ImageFolder", "ImageNet"); extensions NULL-terminated or
 * NULL for sb_img_extensions. */
sb_status sb_image_folder_open(const char *name, const char *root, const char *const *extensions,
                               sb_dataset **out);
bool sb_image_folder_check(const sb_dataset *ds); /* is it an ImageFolder? */
/* The class names (index = class id); returns their count. */
size_t sb_image_folder_classes(const sb_dataset *ds, const char *const **names);
/* The file of sample `index` (0-based) and its class. */
const char *sb_image_folder_path(const sb_dataset *ds, int64_t index, int64_t *target);

#endif
